//! Replays the TLS server fuzz target's checks (`fuzz/src/tls_server.rs`,
//! shared through `#[path]`) under `cargo test`: every committed seed in
//! `fuzz/corpus/tls_server/` (real ClientHellos from rustls, OpenSSL and
//! curl, cut, fragmented, with lying lengths; garbage, plaintext HTTP,
//! alerts, an SSLv2 hello), then every cut and every one-byte corruption
//! of a fresh rustls ClientHello. Each input goes to a TLS server over a
//! socket, followed by end of stream: the server must close promptly,
//! send only whole TLS records, panic nowhere, and go on serving a good
//! client. Where cargo-fuzz is installed, `fuzz/run.sh tls_server` runs
//! the same checks under libFuzzer.

#[allow(dead_code, unreachable_pub)]
#[path = "../../fuzz/src/tls_server.rs"]
mod tls_server;

use std::path::PathBuf;

use weft_transport::tls::rustls;

fn corpus() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/tls_server");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let data = std::fs::read(&p).unwrap();
            (p, data)
        })
        .collect();
    out.sort();
    assert!(out.len() >= 10, "too few seeds in {}", dir.display());
    out
}

#[test]
fn every_seed_is_refused_promptly_with_whole_records_and_the_server_serves_on() {
    let h = tls_server::harness();
    for (path, data) in corpus() {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            h.feed(&data);
            h.check_served();
        }));
        assert!(r.is_ok(), "seed {} failed", path.display());
    }
}

/// A ClientHello as rustls writes it for the harness's server.
fn client_hello() -> Vec<u8> {
    let h = tls_server::harness();
    let connector =
        weft_transport::TlsConnector::from_ca_file(&h.certs().ca, "localhost", &[tls_server::ALPN])
            .unwrap();
    let mut conn =
        rustls::ClientConnection::new(connector.config().clone(), connector.server_name().clone())
            .unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    assert_eq!(hello[0], 0x16, "a handshake record");
    hello
}

#[test]
fn every_cut_of_a_client_hello_is_refused_promptly() {
    let h = tls_server::harness();
    let hello = client_hello();
    for cut in 0..hello.len() {
        h.feed(&hello[..cut]);
    }
    h.check_served();
}

#[test]
fn every_one_byte_corruption_of_a_client_hello_is_refused_promptly() {
    let h = tls_server::harness();
    let hello = client_hello();
    for i in 0..hello.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut bad = hello.clone();
            bad[i] ^= flip;
            h.feed(&bad);
        }
    }
    h.check_served();
}
