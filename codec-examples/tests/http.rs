//! `weft http` driven by curl (and a raw socket where curl cannot say it).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{curl, Server, STEP};

/// A served root inside a temporary directory, with a secret next to it.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::fs::write(root.join("hello.txt"), b"hello, weft\n").unwrap();
        std::fs::write(root.join("a.html"), b"<h1>a</h1>").unwrap();
        std::fs::write(root.join("b.css"), b"h1{}").unwrap();
        std::fs::write(root.join("digits.txt"), b"0123456789").unwrap();
        std::fs::write(root.join("docs/index.html"), b"<p>docs</p>").unwrap();
        std::fs::write(dir.path().join("secret.txt"), b"TOP SECRET").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("leak.txt")).unwrap();
        Site { dir }
    }

    fn root(&self) -> std::path::PathBuf {
        self.dir.path().join("root")
    }

    fn serve(&self, extra: &[&str]) -> Server {
        let root = self.root();
        let mut args = vec!["http", "--root", root.to_str().unwrap()];
        args.extend_from_slice(extra);
        Server::start(&args)
    }
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// Splits `curl -D -` output (head then body) into status, headers, body.
fn split_response(out: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let head = text(&out[..end]);
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (status, headers, out[end + 4..].to_vec())
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn status_of(server: &Server, args: &[&str], path: &str) -> u16 {
    let url = server.url(path);
    let mut all = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    all.extend_from_slice(args);
    all.push(&url);
    let out = curl(&all);
    text(&out.stdout).trim().parse().expect("a status code")
}

#[test]
fn get_serves_the_file_with_length_type_and_validators() {
    let site = Site::new();
    let server = site.serve(&[]);
    let out = curl(&["-D", "-", &server.url("/hello.txt")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (status, h, body) = split_response(&out.stdout);
    assert_eq!(status, 200);
    assert_eq!(body, b"hello, weft\n");
    assert_eq!(header(&h, "content-length"), Some("12"));
    assert_eq!(
        header(&h, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(header(&h, "etag").is_some_and(|e| e.starts_with('"')));
    assert!(header(&h, "last-modified").is_some_and(|d| d.ends_with(" GMT")));
    assert!(header(&h, "date").is_some());
    assert_eq!(header(&h, "accept-ranges"), Some("bytes"));
}

#[test]
fn head_answers_the_same_headers_without_a_body() {
    let site = Site::new();
    let server = site.serve(&[]);
    let out = curl(&["-I", &server.url("/a.html")]);
    let (status, h, body) = split_response(&out.stdout);
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-length"), Some("10"));
    assert_eq!(header(&h, "content-type"), Some("text/html; charset=utf-8"));
    assert!(body.is_empty());
}

#[test]
fn two_urls_on_one_curl_invocation_share_one_connection() {
    let site = Site::new();
    let server = site.serve(&[]);
    let out = curl(&["-v", &server.url("/a.html"), &server.url("/b.css")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"<h1>a</h1>h1{}");
    let log = text(&out.stderr);
    assert!(log.contains("Re-using existing connection"), "{log}");
    assert_eq!(log.matches("Connected to").count(), 1, "{log}");
}

#[test]
fn a_directory_serves_its_index_or_404() {
    let site = Site::new();
    let server = site.serve(&[]);
    let out = curl(&[&server.url("/docs/")]);
    assert_eq!(out.stdout, b"<p>docs</p>");
    assert_eq!(status_of(&server, &[], "/empty/"), 404);
    assert_eq!(status_of(&server, &[], "/nope.txt"), 404);
}

#[test]
fn single_ranges_answer_206_and_unsatisfiable_ones_416() {
    let site = Site::new();
    let server = site.serve(&[]);
    let out = curl(&["-D", "-", "-r", "2-5", &server.url("/digits.txt")]);
    let (status, h, body) = split_response(&out.stdout);
    assert_eq!(status, 206);
    assert_eq!(body, b"2345");
    assert_eq!(header(&h, "content-range"), Some("bytes 2-5/10"));
    let out = curl(&["-r", "-3", &server.url("/digits.txt")]);
    assert_eq!(out.stdout, b"789");
    let out = curl(&["-D", "-", "-r", "50-60", &server.url("/digits.txt")]);
    let (status, h, _) = split_response(&out.stdout);
    assert_eq!(status, 416);
    assert_eq!(header(&h, "content-range"), Some("bytes */10"));
}

#[test]
fn validators_answer_304() {
    let site = Site::new();
    let server = site.serve(&[]);
    let out = curl(&["-D", "-", &server.url("/hello.txt")]);
    let (_, h, _) = split_response(&out.stdout);
    let etag = header(&h, "etag").unwrap().to_owned();
    let lm = header(&h, "last-modified").unwrap().to_owned();
    let inm = format!("If-None-Match: {etag}");
    assert_eq!(status_of(&server, &["-H", &inm], "/hello.txt"), 304);
    assert_eq!(
        status_of(&server, &["-H", "If-None-Match: \"other\""], "/hello.txt"),
        200
    );
    // curl -z DATE sends If-Modified-Since
    assert_eq!(status_of(&server, &["-z", &lm], "/hello.txt"), 304);
    assert_eq!(
        status_of(
            &server,
            &["-z", "Thu, 01 Jan 1970 00:00:00 GMT"],
            "/hello.txt"
        ),
        200
    );
}

#[test]
fn nothing_outside_the_root_is_ever_served() {
    let site = Site::new();
    let server = site.serve(&[]);
    for (args, path) in [
        (&["--path-as-is"][..], "/../secret.txt"),
        (&["--path-as-is"][..], "/docs/../../secret.txt"),
        (&["--path-as-is"][..], "/%2e%2e/secret.txt"),
        (&["--path-as-is"][..], "/%2E%2E%2Fsecret.txt"),
        (&[][..], "/leak.txt"),
    ] {
        let url = server.url(path);
        let mut all = vec!["-D", "-"];
        all.extend_from_slice(args);
        all.push(&url);
        let out = curl(&all);
        let (status, _, body) = split_response(&out.stdout);
        assert!(status == 403 || status == 404, "{path}: {status}");
        assert!(!text(&body).contains("TOP SECRET"), "{path}");
    }
    // An absolute path in the target stays under the root.
    let abs = site.dir.path().join("secret.txt");
    let path = format!("/{}", abs.display());
    assert_eq!(status_of(&server, &["--path-as-is"], &path), 404);
}

#[test]
fn a_big_file_arrives_intact() {
    let site = Site::new();
    let mut data = vec![0u8; 24 * 1024 * 1024 + 123];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    std::fs::write(site.root().join("big.bin"), &data).unwrap();
    let server = site.serve(&[]);
    let dl = site.dir.path().join("download.bin");
    let out = curl(&["-o", dl.to_str().unwrap(), &server.url("/big.bin")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = std::fs::read(&dl).unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the body differs from the file");
}

#[test]
fn header_bombs_answer_431() {
    let site = Site::new();
    let server = site.serve(&[]);
    let many: Vec<String> = (0..200).map(|i| format!("X-Bomb-{i}: {i}")).collect();
    let mut args: Vec<&str> = Vec::new();
    for h in &many {
        args.push("-H");
        args.push(h);
    }
    assert_eq!(status_of(&server, &args, "/hello.txt"), 431);
    let huge = format!("X-Huge: {}", "a".repeat(20_000));
    assert_eq!(status_of(&server, &["-H", &huge], "/hello.txt"), 431);
}

#[test]
fn other_methods_get_405_with_allow() {
    let site = Site::new();
    let server = site.serve(&[]);
    let out = curl(&[
        "-D",
        "-",
        "-X",
        "POST",
        "-d",
        "x=1",
        &server.url("/hello.txt"),
    ]);
    let (status, h, _) = split_response(&out.stdout);
    assert_eq!(status, 405);
    assert_eq!(header(&h, "allow"), Some("GET, HEAD, OPTIONS"));
}

/// Status line and headers (lower-case names) of every response in `raw`.
fn responses(raw: &[u8]) -> Vec<(u16, Vec<(String, String)>)> {
    let out = text(raw);
    out.match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| {
            let head = &out[i..];
            let head = &head[..head.find("\r\n\r\n")?];
            let mut lines = head.split("\r\n");
            let status = lines.next()?.get(9..12)?.parse().ok()?;
            let headers = lines
                .filter_map(|l| l.split_once(": "))
                .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
                .collect();
            Some((status, headers))
        })
        .collect()
}

fn raw_status(server: &Server, request: &[u8]) -> u16 {
    let got = responses(&raw_exchange(server, request));
    assert_eq!(got.len(), 1, "one answer to {:?}", text(request));
    got[0].0
}

#[test]
fn host_is_validated_over_raw_sockets_and_curl() {
    let site = Site::new();
    let server = site.serve(&[]);
    for host in ["a, b", "a/path", "", "a b"] {
        let req = format!("GET /hello.txt HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_eq!(raw_status(&server, req.as_bytes()), 400, "Host: {host:?}");
        let h = format!("Host: {host}");
        assert_eq!(status_of(&server, &["-H", &h], "/hello.txt"), 400, "{h}");
    }
    let two = b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: a\r\nConnection: close\r\n\r\n";
    assert_eq!(raw_status(&server, two), 400);
    let ok = b"GET /hello.txt HTTP/1.1\r\nHost: a:80\r\nConnection: close\r\n\r\n";
    assert_eq!(raw_status(&server, ok), 200);
}

#[test]
fn unknown_transfer_codings_get_501_whatever_the_method() {
    let site = Site::new();
    let server = site.serve(&[]);
    for te in ["gzip", "chunked, gzip"] {
        for method in ["GET", "POST", "DELETE"] {
            let req = format!(
                "{method} /hello.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: {te}\r\n\r\n"
            );
            let out = raw_exchange(&server, req.as_bytes());
            let got = responses(&out);
            assert_eq!(got.len(), 1, "{req}");
            assert_eq!(got[0].0, 501, "{req}");
            assert_eq!(header(&got[0].1, "connection"), Some("close"));
        }
        let h = format!("Transfer-Encoding: {te}");
        assert_eq!(
            status_of(&server, &["-X", "POST", "-H", &h, "-d", "x"], "/hello.txt"),
            501
        );
    }
}

#[test]
fn a_later_http_1_x_is_served_as_http_1_1() {
    let site = Site::new();
    let server = site.serve(&[]);
    for v in ["1.2", "1.9"] {
        let req = format!("GET /hello.txt HTTP/{v}\r\nHost: t\r\nConnection: close\r\n\r\n");
        let out = text(&raw_exchange(&server, req.as_bytes()));
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{v}: {out}");
        assert!(out.ends_with("\r\n\r\nhello, weft\n"), "{v}: {out}");
    }
    // Kept alive like 1.1: two requests on one connection.
    let out = raw_exchange(
        &server,
        b"GET /a.html HTTP/1.2\r\nHost: t\r\n\r\nGET /b.css HTTP/1.2\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(responses(&out).len(), 2, "{}", text(&out));
    assert_eq!(
        raw_status(&server, b"GET / HTTP/2.0\r\nHost: t\r\n\r\n"),
        505
    );
}

#[test]
fn if_modified_since_later_than_the_clock_is_ignored() {
    let site = Site::new();
    let server = site.serve(&[]);
    let future = "Fri, 01 Jan 2100 00:00:00 GMT";
    // Not `curl -z`: curl itself reports 304 for a 200 older than the date.
    let ims = format!("If-Modified-Since: {future}");
    assert_eq!(status_of(&server, &["-H", &ims], "/hello.txt"), 200);
    let req = format!(
        "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: {future}\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(raw_status(&server, req.as_bytes()), 200);
    // A date now (after the file was written) still gives 304.
    let out = curl(&["-D", "-", &server.url("/hello.txt")]);
    let (_, h, _) = split_response(&out.stdout);
    let now = header(&h, "date").unwrap().to_owned();
    assert_eq!(status_of(&server, &["-z", &now], "/hello.txt"), 304);
}

#[test]
fn a_directory_without_its_slash_redirects_and_its_relative_links_resolve() {
    let site = Site::new();
    std::fs::write(
        site.root().join("docs/index.html"),
        b"<a href=\"page.txt\">page</a>",
    )
    .unwrap();
    std::fs::write(site.root().join("docs/page.txt"), b"the page").unwrap();
    let server = site.serve(&[]);
    let out = curl(&["-D", "-", &server.url("/docs?x=1")]);
    let (status, h, _) = split_response(&out.stdout);
    assert_eq!(status, 301);
    assert_eq!(header(&h, "location"), Some("/docs/?x=1"));
    // curl -L follows it; the index's relative link then names docs/page.txt.
    let out = curl(&["-L", "-w", "%{url_effective}", &server.url("/docs")]);
    let body = text(&out.stdout);
    assert!(body.starts_with("<a href=\"page.txt\">"), "{body}");
    assert!(body.ends_with("/docs/"), "{body}");
    let out = curl(&[&server.url("/docs/page.txt")]);
    assert_eq!(out.stdout, b"the page");
    // An index-less directory redirects too, then is 404; a file with a
    // slash is 404.
    assert_eq!(status_of(&server, &[], "/empty"), 301);
    assert_eq!(status_of(&server, &[], "/empty/"), 404);
    assert_eq!(status_of(&server, &[], "/hello.txt/"), 404);
    let out = raw_exchange(
        &server,
        b"HEAD //docs HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let got = responses(&out);
    assert_eq!(got[0].0, 301);
    assert_eq!(
        header(&got[0].1, "location"),
        Some("/docs/"),
        "never //docs/"
    );
}

#[test]
fn options_answers_200_with_allow() {
    let site = Site::new();
    let server = site.serve(&[]);
    for target in ["*", "/hello.txt", "/docs/"] {
        let req = format!("OPTIONS {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let got = responses(&raw_exchange(&server, req.as_bytes()));
        assert_eq!(got[0].0, 200, "{target}");
        assert_eq!(header(&got[0].1, "allow"), Some("GET, HEAD, OPTIONS"));
        assert_eq!(header(&got[0].1, "content-length"), Some("0"));
    }
    let out = curl(&["-D", "-", "-X", "OPTIONS", &server.url("/hello.txt")]);
    let (status, h, body) = split_response(&out.stdout);
    assert_eq!(status, 200);
    assert_eq!(header(&h, "allow"), Some("GET, HEAD, OPTIONS"));
    assert!(body.is_empty());
    // curl --request-target sends `OPTIONS *`.
    let out = curl(&[
        "-D",
        "-",
        "-X",
        "OPTIONS",
        "--request-target",
        "*",
        &server.url("/"),
    ]);
    let (status, h, _) = split_response(&out.stdout);
    assert_eq!(status, 200);
    assert_eq!(header(&h, "allow"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(status_of(&server, &["-X", "OPTIONS"], "/nope"), 404);
}

#[test]
fn a_bare_lf_is_refused_wherever_it_is_and_never_frames_a_request() {
    let site = Site::new();
    let server = site.serve(&[]);
    for req in [
        &b"GET /hello.txt HTTP/1.1\nHost: t\n\n"[..],
        b"GET /hello.txt HTTP/1.1\r\nHost: t\nConnection: close\r\n\r\n",
        b"\nGET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n",
        // A proxy that reads this as one field would see no body; refusing
        // it means the 5 bytes are never skipped as one.
        b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nX: a\nContent-Length: 5\r\n\r\nGET /a.html HTTP/1.1\r\nHost: t\r\n\r\n",
    ] {
        let out = raw_exchange(&server, req);
        let got = responses(&out);
        assert_eq!(got.len(), 1, "one answer, then close: {}", text(&out));
        assert_eq!(got[0].0, 400, "{:?}", text(req));
        assert_eq!(header(&got[0].1, "connection"), Some("close"));
    }
    // The same requests with CRLF are served.
    assert_eq!(
        raw_status(
            &server,
            b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        ),
        200
    );
}

fn raw_exchange(server: &Server, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(STEP)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    // The server closes after these requests; reading to EOF is bounded.
    s.read_to_end(&mut out).unwrap();
    out
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let site = Site::new();
    let server = site.serve(&[]);
    let req = b"GET /a.html HTTP/1.1\r\nHost: t\r\n\r\n\
GET /nope HTTP/1.1\r\nHost: t\r\n\r\n\
HEAD /digits.txt HTTP/1.1\r\nHost: t\r\n\r\n\
GET /digits.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-2\r\n\r\n\
GET /b.css HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n\
GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    let out = text(&raw_exchange(&server, req));
    let statuses: Vec<&str> = out
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &out[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "404", "200", "206", "200"], "{out}");
    let a = out.find("<h1>a</h1>").unwrap();
    let r = out.find("\r\n\r\n012HTTP/1.1 200").unwrap();
    let css = out.find("h1{}").unwrap();
    assert!(a < r && r < css, "{out}");
    assert!(
        out.ends_with("h1{}"),
        "nothing after Connection: close: {out}"
    );
}

#[test]
fn bad_heads_get_their_statuses_and_close() {
    let site = Site::new();
    let server = site.serve(&[]);
    for (req, want) in [
        (&b"GET / HTTP/2.0\r\n\r\n"[..], "HTTP/1.1 505 "),
        (b"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "),
        (b"GARBAGE\r\n\r\n", "HTTP/1.1 400 "),
        (b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 "),
    ] {
        let out = text(&raw_exchange(&server, req));
        assert!(out.starts_with(want), "{req:?} -> {out}");
        assert!(out.contains("Connection: close\r\n"), "{out}");
    }
}

#[test]
fn http_1_0_closes_unless_asked_to_keep_alive() {
    let site = Site::new();
    let server = site.serve(&[]);
    let out = text(&raw_exchange(&server, b"GET /digits.txt HTTP/1.0\r\n\r\n"));
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\n0123456789"), "{out}");
    // keep-alive then close on the same connection
    let out = text(&raw_exchange(
        &server,
        b"GET /digits.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /a.html HTTP/1.0\r\n\r\n",
    ));
    assert!(out.contains("Connection: keep-alive\r\n"), "{out}");
    assert!(out.ends_with("<h1>a</h1>"), "{out}");
    let out = curl(&["--http1.0", &server.url("/hello.txt")]);
    assert_eq!(out.stdout, b"hello, weft\n");
}

#[test]
fn a_trickling_head_is_answered_408_and_closed() {
    let site = Site::new();
    let server = site.serve(&["--header-timeout", "1"]);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    // At most 10 s of trickling, one byte every 100 ms: the server must
    // give up long before the head could ever end.
    for b in b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nX-Slow: "
        .iter()
        .cycle()
        .take(100)
    {
        if s.write_all(&[*b]).is_err() {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    s.set_read_timeout(Some(STEP)).unwrap();
    let _ = s.read_to_end(&mut out);
    let out = text(&out);
    assert!(out.starts_with("HTTP/1.1 408 "), "{out:?}");
}

#[test]
fn sigterm_shuts_the_server_down_gracefully() {
    let site = Site::new();
    let server = site.serve(&["--memory-body-max", "0"]);
    assert_eq!(status_of(&server, &[], "/hello.txt"), 200);
    assert_eq!(status_of(&server, &["-r", "0-3"], "/hello.txt"), 206);
    let (status, out) = server.terminate();
    assert!(status.success(), "{status:?}");
    // The bodies went out by sendfile; nothing was copied in user space.
    assert!(
        out.contains("sent by sendfile 16 bytes in 2 calls"),
        "{out}"
    );
    assert!(out.contains("copied in user space 0 bytes"), "{out}");
}

#[test]
fn small_files_go_out_from_memory_by_default_and_the_copy_is_counted() {
    let site = Site::new();
    let server = site.serve(&[]);
    let out = curl(&["-D", "-", &server.url("/hello.txt")]);
    let (status, _, body) = split_response(&out.stdout);
    assert_eq!((status, body.as_slice()), (200, &b"hello, weft\n"[..]));
    assert_eq!(status_of(&server, &["-r", "0-3"], "/hello.txt"), 206);
    let (status, out) = server.terminate();
    assert!(status.success(), "{status:?}");
    // Read once per open (then sent with the head): counted, no sendfile.
    assert!(out.contains("sent by sendfile 0 bytes in 0 calls"), "{out}");
    assert!(!out.contains("copied in user space 0 bytes"), "{out}");
}

#[test]
fn a_short_wrk_load_is_served_without_errors() {
    if std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("SKIPPED a_short_wrk_load_is_served_without_errors: wrk is not installed");
        return;
    }
    let site = Site::new();
    let server = site.serve(&[]);
    let out = support::run(std::process::Command::new("wrk").args([
        "-t1",
        "-c8",
        "-d1s",
        "--timeout",
        "5s",
        &server.url("/hello.txt"),
    ]));
    let report = text(&out.stdout);
    println!("{report}");
    assert!(out.status.success(), "{report}{}", text(&out.stderr));
    assert!(report.contains("requests in"), "{report}");
    assert!(!report.contains("Non-2xx"), "{report}");
    assert!(!report.contains("Socket errors"), "{report}");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let site = Site::new();
    let server = site.serve(&["--idle-timeout", "1"]);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(STEP)).unwrap();
    s.write_all(b"GET /digits.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    // The answer, then nothing until the server closes (bounded by STEP).
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let out = text(&out);
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\n0123456789"), "{out}");
}

/// Reads one response with a Content-Length body; returns status and body length.
fn read_response(r: &mut impl std::io::BufRead) -> (u16, usize) {
    let mut status = 0;
    let mut len = 0;
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some(rest) = l.strip_prefix("HTTP/1.1 ") {
            status = rest[..3].parse().unwrap();
        } else if let Some((n, v)) = l.split_once(": ") {
            if n.eq_ignore_ascii_case("content-length") {
                len = v.parse().unwrap();
            }
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).unwrap();
    (status, len)
}

#[test]
fn many_pipelined_requests_for_large_files_are_all_answered_to_a_slow_reader() {
    let site = Site::new();
    std::fs::write(site.root().join("mib.bin"), vec![7u8; 1 << 20]).unwrap();
    let server = site.serve(&[]);
    let s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(STEP)).unwrap();
    let n = 64;
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut reqs = Vec::new();
        for _ in 0..n {
            reqs.extend_from_slice(b"GET /mib.bin HTTP/1.1\r\nHost: t\r\n\r\n");
        }
        w.write_all(&reqs).unwrap();
    });
    // Reading only starts once every request has been sent: the server must
    // hold requests back (watermarks), not fail or drop any.
    writer.join().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut r = std::io::BufReader::new(s);
    for i in 0..n {
        assert_eq!(read_response(&mut r), (200, 1 << 20), "response {i}");
    }
}
