//! `weft proxy --tls-cert/--tls-key` (TLS terminated, plaintext upstream)
//! against real clients: `redis-cli --tls` in front of redis-server (SET,
//! GET, a 1 MiB value), `curl --cacert` in front of `weft http` (the whole
//! file, a Range, TLS 1.2, a client trusting another CA).
//!
//! redis-server, redis-tools and curl are installed by `.ci/run`; a test
//! whose tool is missing says so on stderr and passes.

mod support;
mod tls_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{curl, run, wait_bounded, Proc, Server, PROCESS_WAIT, STEP};
use tls_support::{half_closed_exchange, have, path_str, start_tls, text, Certs};

/// A redis-server on a free loopback port with persistence off, killed by
/// PID when dropped.
struct Redis {
    _proc: Proc,
    addr: SocketAddr,
}

impl Redis {
    fn start() -> Redis {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stderr(Stdio::null());
        let proc = Proc::spawn(cmd);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + PROCESS_WAIT;
        loop {
            if let Ok(mut s) = TcpStream::connect(addr) {
                s.set_read_timeout(Some(STEP)).unwrap();
                let mut buf = [0u8; 7];
                if s.write_all(b"PING\r\n").is_ok()
                    && s.read_exact(&mut buf).is_ok()
                    && &buf == b"+PONG\r\n"
                {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { _proc: proc, addr }
    }
}

/// `redis-cli --tls --cacert CA -h 127.0.0.1 -p PORT <args>`, stdin from
/// `stdin`, bounded.
fn redis_cli(addr: SocketAddr, ca: &Path, args: &[&str], stdin: Option<&Path>) -> Output {
    let mut cmd = Command::new("redis-cli");
    cmd.args(["--tls", "--cacert", path_str(ca)])
        .args(["-h", "127.0.0.1", "-p", &addr.port().to_string()])
        .args(args);
    match stdin {
        None => run(&mut cmd),
        Some(path) => {
            let mut child = cmd
                .stdin(std::fs::File::open(path).unwrap())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn redis-cli");
            // Both pipes drained on threads while the child runs.
            let drain = |mut pipe: Box<dyn Read + Send>| {
                let (tx, rx) = mpsc::channel();
                std::thread::spawn(move || {
                    let mut v = Vec::new();
                    let _ = pipe.read_to_end(&mut v);
                    let _ = tx.send(v);
                });
                rx
            };
            let out = drain(Box::new(child.stdout.take().expect("stdout")));
            let err = drain(Box::new(child.stderr.take().expect("stderr")));
            let pid = child.id();
            let status = wait_bounded(&mut child, STEP * 3)
                .unwrap_or_else(|| panic!("redis-cli (pid {pid}) did not finish in time"));
            Output {
                status,
                stdout: out.recv_timeout(STEP).unwrap_or_default(),
                stderr: err.recv_timeout(STEP).unwrap_or_default(),
            }
        }
    }
}

/// The printable pattern of `n` bytes (redis-cli prints values raw).
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i * 7 % 26) as u8).collect()
}

/// The byte count `weft proxy` printed for `what` at exit.
fn printed_count(out: &str, what: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix(what)?.strip_suffix(" bytes"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{what} N bytes` line in {out:?}"))
}

#[test]
fn redis_cli_over_tls_through_the_proxy_sets_and_gets_one_mebibyte() {
    if !have("redis-server", "--version", "redis-server")
        || !have("redis-cli", "--version", "redis-tools")
    {
        return;
    }
    let help = run(Command::new("redis-cli").arg("--help"));
    if !text(&help).contains("--tls") {
        eprintln!("SKIPPED: this redis-cli is built without TLS");
        return;
    }
    let certs = Certs::new();
    let redis = Redis::start();
    let upstream = redis.addr.to_string();
    let proxy = start_tls(&["proxy", "--upstream", &upstream], &certs);
    let ca = &certs.good.ca;

    let out = redis_cli(proxy.addr, ca, &["SET", "greeting", "hello tls"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "OK",
        "{}",
        text(&out)
    );
    let out = redis_cli(proxy.addr, ca, &["GET", "greeting"], None);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hello tls",
        "{}",
        text(&out)
    );

    // A 1 MiB value: many records each way.
    let dir = tempfile::tempdir().unwrap();
    let value = pattern(1 << 20);
    let file = dir.path().join("value");
    std::fs::write(&file, &value).unwrap();
    let out = redis_cli(proxy.addr, ca, &["-x", "SET", "big"], Some(&file));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "OK",
        "{}",
        text(&out)
    );
    let out = redis_cli(proxy.addr, ca, &["GET", "big"], None);
    assert!(out.status.success(), "{}", text(&out));
    let got = out.stdout.strip_suffix(b"\n").unwrap_or(&out.stdout);
    assert_eq!(got.len(), value.len(), "GET big: length");
    assert!(got == &value[..], "GET big: content differs");
    let out = redis_cli(proxy.addr, ca, &["STRLEN", "big"], None);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1048576");

    // The proxy forwarded all of it, decrypted, both ways.
    let (status, out) = proxy.terminate();
    assert!(status.success(), "{status:?}");
    assert!(printed_count(&out, "client->upstream ") > 1 << 20, "{out}");
    assert!(printed_count(&out, "upstream->client ") > 1 << 20, "{out}");
}

#[test]
fn curl_over_tls_through_the_proxy_gets_the_file_and_a_range() {
    if !have("curl", "--version", "curl") {
        return;
    }
    let certs = Certs::new();
    let root = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(root.path().join("file.bin"), &body).unwrap();
    let http = Server::start(&["http", "--root", path_str(root.path())]);
    let upstream = http.addr.to_string();
    let proxy = start_tls(&["proxy", "--upstream", &upstream], &certs);
    let url = format!("https://localhost:{}/file.bin", proxy.addr.port());
    let resolve = format!("localhost:{}:127.0.0.1", proxy.addr.port());
    let ca = path_str(&certs.good.ca);
    let fetch = |extra: &[&str]| {
        let mut args = vec!["--cacert", ca, "--resolve", &resolve];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-w", "\n%{http_code} %{ssl_verify_result}", &url]);
        let out = curl(&args);
        assert!(out.status.success(), "{}", text(&out));
        let split = out
            .stdout
            .iter()
            .rposition(|&b| b == b'\n')
            .expect("curl's -w line");
        let (got, tail) = out.stdout.split_at(split);
        (
            got.to_vec(),
            String::from_utf8_lossy(&tail[1..]).to_string(),
        )
    };
    let (got, tail) = fetch(&[]);
    assert_eq!(tail, "200 0");
    assert_eq!(got.len(), body.len());
    assert!(got == body, "the file differs");
    let (got, tail) = fetch(&["-r", "100-199"]);
    assert_eq!(tail, "206 0");
    assert_eq!(got, &body[100..200]);
    // TLS 1.2 as well.
    let (got, tail) = fetch(&["--tls-max", "1.2", "-r", "0-9"]);
    assert_eq!(tail, "206 0");
    assert_eq!(got, &body[..10]);
    // curl trusting another CA refuses the proxy: exit 60 (certificate
    // not verified) or, as both test CAs have the same name and OpenSSL
    // then checks the leaf's signature with the wrong CA's key, 35.
    let out = curl(&[
        "--cacert",
        path_str(&certs.other.ca),
        "--resolve",
        &resolve,
        &url,
    ]);
    assert!(
        matches!(out.status.code(), Some(35 | 60)),
        "{:?}: {}",
        out.status,
        text(&out)
    );
    let (status, _) = proxy.terminate();
    assert!(status.success(), "{status:?}");
    drop(http);
}

/// A client that sends its commands, then `close_notify` and FIN, still
/// gets every answer: the TLS proxy half-closes the upstream and relays
/// what comes back, as the plaintext proxy does (`tests/proxy.rs`).
#[test]
fn a_half_closed_tls_client_of_the_proxy_still_gets_the_upstream_answer() {
    if !have("redis-server", "--version", "redis-server") {
        return;
    }
    let certs = Certs::new();
    let redis = Redis::start();
    let upstream = redis.addr.to_string();
    let proxy = start_tls(&["proxy", "--upstream", &upstream], &certs);
    let n = 2000;
    let req: Vec<u8> = (0..n)
        .flat_map(|i| format!("SET k{i} v{i}\r\n").into_bytes())
        .collect();
    let got = half_closed_exchange(proxy.addr, &certs.good.ca, &req).unwrap();
    let want = b"+OK\r\n".repeat(n);
    assert!(
        got == want,
        "{} of {} bytes came back",
        got.len(),
        want.len()
    );
}
