//! `weft http --tls-cert/--tls-key` (HTTPS) against real clients: curl
//! with `--cacert` (whole files, which go out as file regions the
//! transport reads and encrypts; ranges; HEAD; a 404; keep-alive; TLS 1.2
//! and 1.3; HTTP/2 offered and declined), and `openssl s_client` for ALPN
//! (`http/1.1` chosen; a client offering only `h2` refused, as nginx
//! refuses it).
//!
//! curl and openssl are installed by `.ci/run`; a test whose tool is
//! missing says so on stderr and passes.

mod support;
mod tls_support;

use std::path::Path;

use support::{curl, Server};
use tls_support::{have, path_str, s_client_once, start_tls, text, Certs};

/// A `weft http --tls-*` serving a directory with `small.txt` (100 bytes
/// of text) and `big.bin` (8 MiB + 17 bytes, more than one staging
/// buffer and not a multiple of a record).
struct Https {
    server: Server,
    certs: Certs,
    big: Vec<u8>,
    small: Vec<u8>,
    _root: tempfile::TempDir,
}

impl Https {
    fn start() -> Https {
        let certs = Certs::new();
        let root = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..(8 << 20) + 17u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let small: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
        std::fs::write(root.path().join("big.bin"), &big).unwrap();
        std::fs::write(root.path().join("small.txt"), &small).unwrap();
        let server = start_tls(&["http", "--root", path_str(root.path())], &certs);
        Https {
            server,
            certs,
            big,
            small,
            _root: root,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.server.addr.port())
    }

    /// curl with the test CA and `localhost` pinned to the server;
    /// returns the body and what `-w` printed after it (on its own line).
    fn curl(&self, extra: &[&str], write_out: &str) -> (Vec<u8>, String) {
        self.curl_with(&self.certs.good.ca, extra, write_out)
    }

    fn curl_with(&self, ca: &Path, extra: &[&str], write_out: &str) -> (Vec<u8>, String) {
        let resolve = format!("localhost:{}:127.0.0.1", self.server.addr.port());
        let w = format!("\n{write_out}");
        let mut args = vec!["--cacert", path_str(ca), "--resolve", &resolve, "-w", &w];
        args.extend_from_slice(extra);
        let out = curl(&args);
        assert!(out.status.success(), "curl {extra:?}: {}", text(&out));
        let split = out
            .stdout
            .iter()
            .rposition(|&b| b == b'\n')
            .expect("the -w line");
        let (body, tail) = out.stdout.split_at(split);
        (
            body.to_vec(),
            String::from_utf8_lossy(&tail[1..]).into_owned(),
        )
    }
}

#[test]
fn curl_gets_whole_files_over_tls_1_3_and_1_2() {
    if !have("curl", "--version", "curl") {
        return;
    }
    let h = Https::start();
    for version in [
        ["--tlsv1.3", "--tls-max", "1.3"],
        ["--tlsv1.2", "--tls-max", "1.2"],
    ] {
        let mut args = version.to_vec();
        let url = h.url("/big.bin");
        args.push(&url);
        let (body, tail) = h.curl(&args, "%{http_code} %{ssl_verify_result} %{http_version}");
        assert_eq!(tail, "200 0 1.1", "{version:?}");
        assert_eq!(body.len(), h.big.len(), "{version:?}");
        assert!(body == h.big, "{version:?}: the file differs");
    }
}

#[test]
fn curl_ranges_head_and_404_over_tls() {
    if !have("curl", "--version", "curl") {
        return;
    }
    let h = Https::start();
    let big = h.url("/big.bin");
    let (body, tail) = h.curl(&["-r", "100-199", &big], "%{http_code}");
    assert_eq!(tail, "206");
    assert_eq!(body, &h.big[100..200]);
    // A range that crosses the staging buffer's size and ends at the end.
    let from = (1 << 20) - 5;
    let range = format!("{from}-");
    let (body, tail) = h.curl(&["-r", &range, &big], "%{http_code}");
    assert_eq!(tail, "206");
    assert!(body == h.big[from..], "the open-ended range differs");
    // HEAD: the length, no body.
    let (body, tail) = h.curl(&["-I", &big], "%{http_code}");
    let head = String::from_utf8_lossy(&body).to_ascii_lowercase();
    assert_eq!(tail, "200");
    assert!(
        head.contains(&format!("content-length: {}", h.big.len())),
        "{head}"
    );
    let (_, tail) = h.curl(&[&h.url("/no-such-file")], "%{http_code}");
    assert_eq!(tail, "404");
}

#[test]
fn curl_reuses_one_tls_connection_for_several_requests() {
    if !have("curl", "--version", "curl") {
        return;
    }
    let h = Https::start();
    let (small, big) = (h.url("/small.txt"), h.url("/big.bin"));
    // Three transfers, each followed by its -w line (the last one split
    // off by `curl`); only the first connects.
    let (out, last) = h.curl(&[&small, &big, &small], "%{http_code} %{num_connects}");
    assert_eq!(last, "200 0");
    let mut want = h.small.clone();
    want.extend_from_slice(b"\n200 1");
    want.extend_from_slice(&h.big);
    want.extend_from_slice(b"\n200 0");
    want.extend_from_slice(&h.small);
    assert_eq!(out.len(), want.len());
    assert!(out == want, "the bodies or the connection counts differ");
}

#[test]
fn curl_offering_http2_is_answered_in_http_1_1() {
    if !have("curl", "--version", "curl") {
        return;
    }
    let h = Https::start();
    let url = h.url("/small.txt");
    let (body, tail) = h.curl(&["--http2", &url], "%{http_code} %{http_version}");
    assert_eq!(tail, "200 1.1");
    assert_eq!(body, h.small);
}

#[test]
fn curl_trusting_another_ca_is_refused() {
    if !have("curl", "--version", "curl") {
        return;
    }
    let h = Https::start();
    let resolve = format!("localhost:{}:127.0.0.1", h.server.addr.port());
    let out = curl(&[
        "--cacert",
        path_str(&h.certs.other.ca),
        "--resolve",
        &resolve,
        &h.url("/small.txt"),
    ]);
    // 60: not verified; 35: both test CAs have the same name, and OpenSSL
    // checks the leaf's signature with the wrong CA's key.
    assert!(
        matches!(out.status.code(), Some(35 | 60)),
        "{:?}: {}",
        out.status,
        text(&out)
    );
    // The server is fine.
    let (body, _) = h.curl(&[&h.url("/small.txt")], "%{http_code}");
    assert_eq!(body, h.small);
}

#[test]
fn s_client_gets_alpn_http_1_1_and_an_h2_only_client_is_refused() {
    if !have("openssl", "version", "openssl") {
        return;
    }
    let h = Https::start();
    let ca = path_str(&h.certs.good.ca);
    for version in ["-tls1_3", "-tls1_2"] {
        let out = s_client_once(
            h.server.addr,
            &[version, "-alpn", "h2,http/1.1", "-CAfile", ca],
        );
        let all = text(&out);
        assert!(all.contains("ALPN protocol: http/1.1"), "{version}:\n{all}");
        assert!(all.contains("Verify return code: 0 (ok)"), "{all}");
    }
    // RFC 7301 3.2: no protocol in common is a no_application_protocol
    // alert (nginx does the same since 1.21.4).
    let out = s_client_once(h.server.addr, &["-alpn", "h2", "-CAfile", ca]);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("no application protocol"), "{all}");
    // A client offering no ALPN at all is served.
    let (body, tail) = h.curl(&["--no-alpn", &h.url("/small.txt")], "%{http_code}");
    assert_eq!(tail, "200");
    assert_eq!(body, h.small);
}
