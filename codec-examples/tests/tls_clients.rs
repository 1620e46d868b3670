//! The `weft` servers over TLS against real clients: `openssl s_client`
//! against `weft echo` (protocol version, key updates, ALPN, certificate
//! verification, every kind and PEM format of server key), a rustls
//! client speaking the log protocol to `weft log` (fetches are file
//! regions, encrypted by the transport), certificate and key files that
//! are wrong, and bad input on the TLS ports. Certificates are made in
//! each test (a private CA and a leaf for `localhost` and `127.0.0.1`).
//! `tls_proxy` has `weft proxy` in front of redis-server and `weft http`.
//!
//! openssl is installed by `.ci/run`; a test whose tool is missing says so
//! on stderr and passes.

mod support;
mod tls_support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::{run, Server, STEP};
use tls_support::{
    half_closed_exchange, have, only_alerts, path_str, refused, rustls_client, s_client_once,
    start_tls, text, Certs, SClient,
};
use weft_transport::tls::write_test_certs;

/// s_client with `-tls1_x` against `weft echo`: the line comes back, and
/// the session is the version asked for, verified against the test CA.
/// With `key_update` (TLS 1.3), s_client then updates its keys twice,
/// once asking the server to update its own (`k`), once not (`K`), and
/// the echo goes on.
fn echo_over(version_flag: &str, version_name: &str, key_update: bool) {
    let certs = Certs::new();
    let server = start_tls(&["echo", "--framing", "line"], &certs);
    let mut c = SClient::start(
        server.addr,
        &[
            version_flag,
            "-CAfile",
            path_str(&certs.good.ca),
            "-verify_hostname",
            "localhost",
        ],
    );
    let line = format!("hello over {version_name}");
    c.send(format!("{line}\n").as_bytes());
    let mut echoed = c.wait_for_line(&line, STEP);
    if key_update {
        for (command, line) in [
            (b"k\n", "after a key update both ways"),
            (b"K\n", "after a key update one way"),
        ] {
            c.send(command);
            // Most often enough for s_client to take the command alone.
            std::thread::sleep(Duration::from_millis(200));
            echoed = echoed && c.send_until_echoed(line);
        }
    }
    let out = c.finish();
    assert!(echoed, "no echo:\n{out}");
    if key_update {
        assert_eq!(out.matches("KEYUPDATE").count(), 2, "{out}");
    }
    assert!(
        out.contains(&format!("Protocol  : {version_name}")),
        "not {version_name}:\n{out}"
    );
    assert!(
        out.contains(&format!("New, {version_name}, Cipher is")),
        "{out}"
    );
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    assert!(out.contains("No ALPN negotiated"), "{out}");
    drop(server);
}

#[test]
fn s_client_tls1_3_gets_tls1_3_and_its_lines_echoed_across_key_updates() {
    if have("openssl", "version", "openssl") {
        echo_over("-tls1_3", "TLSv1.3", true);
    }
}

#[test]
fn s_client_tls1_2_gets_tls1_2_and_its_line_echoed() {
    if have("openssl", "version", "openssl") {
        echo_over("-tls1_2", "TLSv1.2", false);
    }
}

#[test]
fn alpn_the_server_does_not_offer_still_connects_without_alpn() {
    if !have("openssl", "version", "openssl") {
        return;
    }
    let certs = Certs::new();
    let server = start_tls(&["echo", "--framing", "line"], &certs);
    let out = s_client_once(
        server.addr,
        &["-alpn", "h2,spdy/1", "-CAfile", path_str(&certs.good.ca)],
    );
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("No ALPN negotiated"), "{all}");
    assert!(all.contains("Verify return code: 0 (ok)"), "{all}");
    // s_client prints the session block only once a TLS 1.3 session
    // ticket came; with stdin closed it may leave before that.
    assert!(all.contains("New, TLSv1.3, Cipher is"), "{all}");
    drop(server);
}

#[test]
fn a_client_trusting_another_ca_fails_verification_and_others_are_served() {
    if !have("openssl", "version", "openssl") {
        return;
    }
    let certs = Certs::new();
    let server = start_tls(&["echo", "--framing", "line"], &certs);
    let other_ca = path_str(&certs.other.ca);
    // Verification fails, the session goes on (s_client's default).
    let out = s_client_once(server.addr, &["-CAfile", other_ca]);
    let all = text(&out);
    let code = all
        .lines()
        .find_map(|l| l.trim().strip_prefix("Verify return code: "))
        .unwrap_or_else(|| panic!("no verify result:\n{all}"));
    assert!(
        !code.starts_with("0 "),
        "verified against the wrong CA: {code}"
    );
    // With -verify_return_error the client aborts the handshake (it sends
    // the server an alert).
    let out = s_client_once(server.addr, &["-CAfile", other_ca, "-verify_return_error"]);
    assert!(!out.status.success(), "{}", text(&out));
    // The server still serves a client that trusts its CA.
    let mut c = SClient::start(server.addr, &["-CAfile", path_str(&certs.good.ca)]);
    c.send(b"after the refusals\n");
    let echoed = c.wait_for_line("after the refusals", STEP);
    let out = c.finish();
    assert!(echoed, "{out}");
    drop(server);
}

/// Rewrites a PKCS#8 key in the traditional format of its kind (PKCS#1
/// for RSA, SEC1 for EC).
fn traditional_key(key: &Path, out: &Path) {
    let o = run(Command::new("openssl").args([
        "pkey",
        "-in",
        path_str(key),
        "-traditional",
        "-out",
        path_str(out),
    ]));
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn s_client_handshakes_with_ecdsa_ed25519_and_rsa_keys_in_every_pem_format() {
    if !have("openssl", "version", "openssl") {
        return;
    }
    let algs: [(&str, &'static rcgen::SignatureAlgorithm); 3] = [
        ("ECDSA P-256", &rcgen::PKCS_ECDSA_P256_SHA256),
        ("Ed25519", &rcgen::PKCS_ED25519),
        ("RSA", &rcgen::PKCS_RSA_SHA256),
    ];
    for (name, alg) in algs {
        let dir = tempfile::tempdir().unwrap();
        let certs = match write_test_certs(dir.path(), alg) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {
                eprintln!("SKIPPED {name}: rcgen cannot generate it here ({e})");
                continue;
            }
            Err(e) => panic!("{name}: {e}"),
        };
        let mut keys = vec![certs.key.clone()];
        // Ed25519 has no traditional format (and OpenSSL 3.0 cannot read
        // the PKCS#8 v2 key aws-lc writes for it).
        if name != "Ed25519" {
            let traditional = dir.path().join("key-traditional.pem");
            traditional_key(&certs.key, &traditional);
            keys.push(traditional);
        }
        for key in &keys {
            let pem = std::fs::read_to_string(key).unwrap();
            let kind = pem.lines().next().unwrap_or_default().to_string();
            let server = Server::start(&[
                "echo",
                "--framing",
                "line",
                "--tls-cert",
                path_str(&certs.cert),
                "--tls-key",
                path_str(key),
            ]);
            for (flag, version) in [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")] {
                let out = s_client_once(server.addr, &[flag, "-CAfile", path_str(&certs.ca)]);
                let all = text(&out);
                assert!(
                    all.contains(&format!("New, {version}, Cipher is"))
                        && all.contains("Verify return code: 0 (ok)"),
                    "{name} key ({kind}), {version}:\n{all}"
                );
            }
            drop(server);
        }
    }
}

#[test]
fn bad_certificate_or_key_files_stop_the_server_with_the_file_named() {
    let certs = Certs::new();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let missing = dir.path().join("missing.pem");
    let (cert, key, other_key) = (&certs.good.cert, &certs.good.key, &certs.other.key);
    // (cert, key, the file the error must name, words it must contain)
    let cases: [(&Path, &Path, &Path, &str); 5] = [
        (&missing, key, &missing, "cannot read"),
        (cert, &missing, &missing, "cannot read"),
        (&empty, key, &empty, "no certificate"),
        (cert, cert, cert, "key"),
        (cert, other_key, other_key, "certificate"),
    ];
    for (c, k, named, words) in cases {
        let out = run(support::weft().args([
            "echo",
            "--framing",
            "line",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            path_str(c),
            "--tls-key",
            path_str(k),
        ]));
        let all = text(&out);
        assert!(!out.status.success(), "started with {c:?} {k:?}:\n{all}");
        assert!(!all.contains("listening on"), "{all}");
        assert!(all.contains(path_str(named)), "{named:?} not named:\n{all}");
        assert!(all.contains(words), "no {words:?} in:\n{all}");
    }
    // One flag without the other is refused by the command line.
    let out = run(support::weft().args([
        "echo",
        "--framing",
        "line",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        path_str(cert),
    ]));
    assert!(!out.status.success());
    assert!(text(&out).contains("--tls-key"), "{}", text(&out));
}

#[test]
fn plaintext_http_and_garbage_on_the_tls_echo_port_close_only_their_own_connection() {
    if !have("openssl", "version", "openssl") {
        return;
    }
    let certs = Certs::new();
    let mut server = start_tls(&["echo", "--framing", "line"], &certs);
    // A session opened before the bad input, and one after: both served.
    let mut before = SClient::start(server.addr, &["-CAfile", path_str(&certs.good.ca)]);
    before.send(b"before\n");
    assert!(before.wait_for_line("before", STEP));
    let inputs: [&[u8]; 4] = [
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"hello\n",
        // A handshake record whose body is garbage.
        b"\x16\x03\x01\x00\x05garbage and more garbage",
        // A fatal alert (handshake_failure) as the first record.
        b"\x15\x03\x03\x00\x02\x02\x28",
    ];
    for input in inputs {
        let got = refused(server.addr, input);
        only_alerts(&got);
    }
    assert!(server.alive(), "the server died");
    before.send(b"still served\n");
    let echoed = before.wait_for_line("still served", STEP);
    let out = before.finish();
    assert!(echoed, "{out}");
    let mut after = SClient::start(server.addr, &["-CAfile", path_str(&certs.good.ca)]);
    after.send(b"after\n");
    let echoed = after.wait_for_line("after", STEP);
    let out = after.finish();
    assert!(echoed, "{out}");
    let (status, _) = server.terminate();
    assert!(status.success(), "{status:?}");
}

/// One log-protocol answer: status and body.
fn log_answer(s: &mut impl Read) -> (u8, Vec<u8>) {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let len = u32::from_be_bytes(len) as usize;
    assert!((1..=64 << 20).contains(&len), "answer length {len}");
    let mut frame = vec![0u8; len];
    s.read_exact(&mut frame).unwrap();
    (frame[0], frame[1..].to_vec())
}

#[test]
fn the_log_broker_over_tls_produces_fetches_and_drops_only_bad_connections() {
    use weft_examples::log::protocol::{encode_fetch, encode_produce};
    let certs = Certs::new();
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_tls(
        &["log", "--dir", path_str(dir.path()), "--fsync", "never"],
        &certs,
    );
    let ca = &certs.good.ca;
    let records: Vec<Vec<u8>> = (0..50)
        .map(|i| format!("record {i:02} {}", "z".repeat(1000)).into_bytes())
        .collect();
    let mut c = rustls_client(server.addr, ca);
    c.write_all(&encode_produce(&records)).unwrap();
    let (status, body) = log_answer(&mut c);
    assert_eq!(status, 0, "{}", String::from_utf8_lossy(&body));
    assert_eq!(&body[..8], &0u64.to_be_bytes(), "first offset");
    // The fetch answer's records are file regions of the segment: under
    // TLS they are read and encrypted by the transport.
    c.write_all(&encode_fetch(0, 1 << 20, 0)).unwrap();
    let (status, body) = log_answer(&mut c);
    assert_eq!(status, 0, "{}", String::from_utf8_lossy(&body));
    assert_eq!(&body[8..16], &50u64.to_be_bytes(), "log end");
    let mut rest = &body[16..];
    for (i, want) in records.iter().enumerate() {
        assert!(rest.len() >= 16, "record {i} missing");
        let offset = u64::from_be_bytes(rest[..8].try_into().unwrap());
        let len = u32::from_be_bytes(rest[8..12].try_into().unwrap()) as usize;
        assert_eq!(offset, i as u64);
        assert_eq!(&rest[16..16 + len], &want[..], "record {i}");
        rest = &rest[16 + len..];
    }
    assert!(
        rest.is_empty(),
        "{} bytes after the last record",
        rest.len()
    );

    // Garbage under TLS (a frame length over the limit) gets an error
    // answer and a close of that connection only.
    let mut bad = rustls_client(server.addr, ca);
    bad.write_all(b"\xff\xff\xff\xff\x01").unwrap();
    let (status, body) = log_answer(&mut bad);
    assert_ne!(status, 0, "{}", String::from_utf8_lossy(&body));
    let mut tail = Vec::new();
    let r = bad.read_to_end(&mut tail);
    assert!(
        tail.is_empty() && r.is_ok(),
        "not closed cleanly: {r:?}, {} bytes",
        tail.len()
    );
    // close_notify, then the end of the TCP stream. The server lingers
    // (reads until this side closes, or its close deadline), so close.
    assert_eq!(bad.sock.read(&mut [0u8; 1]).unwrap(), 0, "no FIN");
    drop(bad);
    // Garbage under the TLS layer: closed, with at most an alert.
    only_alerts(&refused(server.addr, b"\x00\x00\x00\x11\x02not a hello"));
    assert!(server.alive());
    // The first client goes on.
    c.write_all(&encode_fetch(49, 1 << 20, 0)).unwrap();
    let (status, _) = log_answer(&mut c);
    assert_eq!(status, 0);
    drop(c);

    // openssl s_client completes a handshake with it too.
    if have("openssl", "version", "openssl") {
        let out = s_client_once(server.addr, &["-CAfile", path_str(ca)]);
        let all = text(&out);
        assert!(all.contains("Verify return code: 0 (ok)"), "{all}");
        assert!(all.contains("New, TLSv1.3, Cipher is"), "{all}");
    }
    let (status, _) = server.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_half_closed_tls_client_still_gets_its_echo() {
    let certs = Certs::new();
    let echo = start_tls(&["echo", "--framing", "line"], &certs);
    let data: Vec<u8> = (0..2000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let got = half_closed_exchange(echo.addr, &certs.good.ca, &data).unwrap();
    assert!(
        got == data,
        "{} of {} bytes came back",
        got.len(),
        data.len()
    );
}
