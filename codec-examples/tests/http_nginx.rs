//! `weft http` and nginx side by side: the same raw requests go to both,
//! over TCP on loopback, and their status lines (and the headers that
//! matter: `Allow`, `Location`, `Content-Length`) must agree where RFC 9110
//! / 9112 and nginx agree; then the cases curl can send, through curl.
//! Where Weft differs on purpose, the difference itself is asserted (and
//! listed in the README's HTTP section).
//!
//! Skipped, with a printed message, only when nginx is not installed.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, UNIX_EPOCH};

use support::{curl, Server, PROCESS_WAIT, STEP};

/// Where nginx is, if it is installed.
fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A running nginx (one worker, `daemon off`), stopped by PID when
/// dropped, also when a test fails: SIGTERM to the master, which stops its
/// worker and exits (a SIGKILL would leave the worker running, orphaned),
/// then a bounded wait, and SIGKILL only if that runs out.
struct Nginx {
    child: Child,
    port: u16,
    _conf: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx serving `root` on a free loopback port and waits
    /// (bounded) until it accepts connections.
    fn start(bin: &Path, root: &Path) -> Nginx {
        let conf = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = conf.path().display();
        // SAFETY: geteuid(2) has no preconditions and cannot fail.
        let as_root = unsafe { libc::geteuid() } == 0;
        // As root, nginx's worker would run as `nobody`, which cannot read
        // a private temporary directory.
        let user = if as_root { "user root;" } else { "" };
        let config = format!(
            "{user}
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {root};
  }}
}}
",
            root = root.display()
        );
        std::fs::write(conf.path().join("nginx.conf"), config).unwrap();
        let child = Command::new(bin)
            .arg("-e")
            .arg(conf.path().join("error.log"))
            .arg("-p")
            .arg(conf.path())
            .arg("-c")
            .arg(conf.path().join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn nginx");
        let mut nginx = Nginx {
            child,
            port,
            _conf: conf,
        };
        let deadline = Instant::now() + STEP;
        loop {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                let log = std::fs::read_to_string(nginx._conf.path().join("error.log"))
                    .unwrap_or_default();
                panic!("nginx exited at start ({status}): {log}");
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return nginx;
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen on {port} in time"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = self.child.id() as i32;
        // SAFETY: kill(2) on the PID of our own child, not yet reaped (so
        // the PID is still its); no memory effects.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        support::wait_bounded(&mut self.child, PROCESS_WAIT);
    }
}

/// One answer: status and the headers (lower-case names) of its head.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `Location` without scheme and authority: nginx writes an absolute
    /// URL, Weft the path (both are allowed, RFC 9110 §10.2.2).
    fn location_path(&self) -> Option<&str> {
        let loc = self.header("location")?;
        Some(match loc.strip_prefix("http://") {
            Some(rest) => &rest[rest.find('/').unwrap_or(rest.len())..],
            None => loc,
        })
    }
}

/// Sends `request` on a new connection, reads until the server closes
/// (every request here ends the connection: `Connection: close`, or an
/// error that closes it), bounded by [`STEP`], and parses the first answer.
fn ask(port: u16, request: &[u8]) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(STEP)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    if let Err(e) = s.read_to_end(&mut out) {
        // A reset after the answer (the server closed with unread input)
        // still leaves the answer read so far.
        assert!(!out.is_empty(), "no answer to {request:?}: {e}");
    }
    let text = String::from_utf8_lossy(&out);
    let head = &text[..text.find("\r\n\r\n").unwrap_or(text.len())];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line for {request:?}: {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer { status, headers }
}

/// A site both servers serve: a file, a directory with an index, one
/// without, all with an mtime far in the past.
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::fs::write(root.join("hello.txt"), b"hello, weft\n").unwrap();
    std::fs::write(root.join("docs/index.html"), b"<a href=\"p.txt\">p</a>").unwrap();
    // 2020-01-01 00:00:00 GMT
    let mtime = UNIX_EPOCH + Duration::from_secs(1_577_836_800);
    for f in ["hello.txt", "docs/index.html"] {
        let file = std::fs::File::options()
            .write(true)
            .open(root.join(f))
            .unwrap();
        file.set_modified(mtime).unwrap();
    }
    dir
}

/// `GET path` with a Host and `Connection: close`, and `extra` header lines.
fn get(version: &str, path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/{version}\r\nHost: t\r\n{extra}Connection: close\r\n\r\n").into_bytes()
}

struct Both {
    weft: Server,
    nginx: Nginx,
}

impl Both {
    fn start() -> Option<(Both, tempfile::TempDir)> {
        let Some(bin) = nginx_binary() else {
            println!("SKIPPED http_nginx: nginx is not installed (CI installs nginx-light)");
            return None;
        };
        let site = site();
        let root = site.path().to_str().unwrap().to_owned();
        let weft = Server::start_quiet(&["http", "--root", &root]);
        let nginx = Nginx::start(&bin, site.path());
        Some((Both { weft, nginx }, site))
    }

    fn ask(&self, request: &[u8]) -> (Answer, Answer) {
        (
            ask(self.weft.addr.port(), request),
            ask(self.nginx.port, request),
        )
    }

    /// Both give `status`, and the same `Location` path and
    /// `Content-Length` of a file.
    fn agree(&self, request: &[u8], status: u16) {
        let (w, n) = self.ask(request);
        let what = String::from_utf8_lossy(request);
        assert_eq!(
            (w.status, n.status),
            (status, status),
            "weft, nginx: {what:?}"
        );
        assert_eq!(w.location_path(), n.location_path(), "{what:?}");
        if matches!(status, 200 | 206) {
            assert_eq!(
                w.header("content-length"),
                n.header("content-length"),
                "{what:?}"
            );
        }
    }

    /// Weft answers `weft`, nginx `nginx`: a deliberate difference, listed
    /// in the README.
    fn differ(&self, request: &[u8], weft: u16, nginx: u16) -> (Answer, Answer) {
        let (w, n) = self.ask(request);
        let what = String::from_utf8_lossy(request);
        assert_eq!((w.status, n.status), (weft, nginx), "weft, nginx: {what:?}");
        (w, n)
    }
}

#[test]
fn the_cases_of_issue_13_get_the_same_status_from_weft_and_nginx() {
    let Some((both, _site)) = Both::start() else {
        return;
    };
    both.agree(&get("1.1", "/hello.txt", ""), 200);
    both.agree(&get("1.1", "/hello.txt", "Range: bytes=0-4\r\n"), 206);
    both.agree(&get("1.1", "/nope", ""), 404);
    both.agree(&get("1.1", "*", ""), 400);
    // Host (RFC 9112 §3.2)
    for host in ["a, b", "a/path", "", "a b"] {
        let req = format!("GET /hello.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        both.agree(req.as_bytes(), 400);
    }
    both.agree(
        b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: a\r\nConnection: close\r\n\r\n",
        400,
    );
    both.agree(b"GET /hello.txt HTTP/1.1\r\nConnection: close\r\n\r\n", 400);
    both.agree(
        b"GET /hello.txt HTTP/1.0\r\nHost:\r\nConnection: close\r\n\r\n",
        400,
    );
    both.agree(
        b"GET /hello.txt HTTP/1.1\r\nHost: a:80\r\nConnection: close\r\n\r\n",
        200,
    );
    // Transfer-Encoding (RFC 9112 §6.1): 501 whatever the method.
    for te in ["gzip", "chunked, gzip", "gzip, chunked"] {
        for method in ["GET", "POST", "DELETE"] {
            let req = format!(
                "{method} /hello.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: {te}\r\nConnection: close\r\n\r\n"
            );
            both.agree(req.as_bytes(), 501);
        }
    }
    both.agree(
        &get(
            "1.1",
            "/hello.txt",
            "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
        ),
        400,
    );
    both.agree(
        b"GET /hello.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n",
        400,
    );
    // Versions (RFC 9112 §2.6)
    both.agree(&get("1.2", "/hello.txt", ""), 200);
    both.agree(&get("1.9", "/hello.txt", ""), 200);
    both.agree(b"GET /hello.txt HTTP/1.2\r\nConnection: close\r\n\r\n", 400);
    both.agree(&get("2.0", "/hello.txt", ""), 505);
    // If-Modified-Since (RFC 9110 §13.1.3): a future date is ignored, the
    // file's own date is a 304.
    both.agree(
        &get(
            "1.1",
            "/hello.txt",
            "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n",
        ),
        200,
    );
    both.agree(
        &get(
            "1.1",
            "/hello.txt",
            "If-Modified-Since: Wed, 01 Jan 2020 00:00:00 GMT\r\n",
        ),
        304,
    );
    // Directories: 301 to the path with `/` (and the query); a file with a
    // slash is 404.
    both.agree(&get("1.1", "/docs", ""), 301);
    both.agree(&get("1.1", "/docs?x=1", ""), 301);
    both.agree(&get("1.1", "//docs", ""), 301);
    both.agree(&get("1.1", "/empty", ""), 301);
    both.agree(&get("1.1", "/docs/", ""), 200);
    both.agree(&get("1.1", "/hello.txt/", ""), 404);
    // Methods
    both.agree(
        b"DELETE /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        405,
    );
}

#[test]
fn the_deliberate_differences_from_nginx_are_what_the_readme_lists() {
    let Some((both, _site)) = Both::start() else {
        return;
    };
    // The redirect's Location: a path for Weft, an absolute URL for nginx.
    let (w, n) = both.differ(&get("1.1", "/docs?x=1", ""), 301, 301);
    assert_eq!(w.header("location"), Some("/docs/?x=1"));
    assert_eq!(
        n.header("location").map(str::to_owned),
        Some(format!("http://t:{}/docs/?x=1", both.nginx.port))
    );
    // OPTIONS: 200 with Allow (the issue asks for it); nginx refuses.
    for (target, nginx) in [("*", 400), ("/hello.txt", 405)] {
        let req = format!("OPTIONS {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let (w, _) = both.differ(req.as_bytes(), 200, nginx);
        assert_eq!(w.header("allow"), Some("GET, HEAD, OPTIONS"));
    }
    // 405 names the methods in Allow; nginx sends none.
    let (w, n) = both.differ(
        b"DELETE /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        405,
        405,
    );
    assert_eq!(w.header("allow"), Some("GET, HEAD, OPTIONS"));
    assert_eq!(n.header("allow"), None);
    // A bare LF: refused by Weft, a line end for nginx.
    for req in [
        &b"GET /hello.txt HTTP/1.1\nHost: t\nConnection: close\n\n"[..],
        b"GET /hello.txt HTTP/1.1\r\nHost: t\nConnection: close\r\n\r\n",
        b"\nGET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    ] {
        both.differ(req, 400, 200);
    }
    // A directory without an index: 404 (nginx: 403).
    both.differ(&get("1.1", "/empty/", ""), 404, 403);
    // HTTP-version is one digit each (RFC 9112 §2.3); nginx reads 1.10.
    both.differ(&get("1.10", "/hello.txt", ""), 400, 200);
    // Host is an RFC 3986 uri-host[:port]; nginx takes these.
    for host in ["a@b", "a:x", "a\\b"] {
        let req = format!("GET /hello.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        both.differ(req.as_bytes(), 400, 200);
    }
    // If-Modified-Since after the file's date (and not in the future): 304
    // by RFC 9110 §13.1.3; nginx's default (`if_modified_since exact`)
    // wants the date itself.
    both.differ(
        &get(
            "1.1",
            "/hello.txt",
            "If-Modified-Since: Fri, 01 Jan 2021 00:00:00 GMT\r\n",
        ),
        304,
        200,
    );
}

/// curl's status code for `path` on `port` with `args`.
fn curl_code(port: u16, args: &[&str], path: &str) -> u16 {
    let url = format!("http://127.0.0.1:{port}{path}");
    let mut all = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    all.extend_from_slice(args);
    all.push(&url);
    let out = curl(&all);
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no status from curl {all:?}"))
}

#[test]
fn curl_gets_the_same_statuses_from_weft_and_nginx() {
    let Some((both, _site)) = Both::start() else {
        return;
    };
    let ports = [both.weft.addr.port(), both.nginx.port];
    let codes = |args: &[&str], path: &str| ports.map(|p| curl_code(p, args, path));
    let agree: &[(&[&str], &str, u16)] = &[
        (&[], "/hello.txt", 200),
        (&["--http1.0"], "/hello.txt", 200),
        (&["-H", "Host: a, b"], "/hello.txt", 400),
        (&["-H", "Host: a/path"], "/hello.txt", 400),
        // `Host;` makes curl send an empty Host.
        (&["-H", "Host;"], "/hello.txt", 400),
        (
            &["-X", "POST", "-H", "Transfer-Encoding: gzip", "-d", "x"],
            "/hello.txt",
            501,
        ),
        (
            &["-H", "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT"],
            "/hello.txt",
            200,
        ),
        (&[], "/docs", 301),
        (&["-L"], "/docs", 200),
        (&[], "/hello.txt/", 404),
        (&["-X", "DELETE"], "/hello.txt", 405),
    ];
    for (args, path, want) in agree {
        assert_eq!(codes(args, path), [*want, *want], "curl {args:?} {path}");
    }
    // Deliberate differences (README): OPTIONS.
    assert_eq!(codes(&["-X", "OPTIONS"], "/hello.txt"), [200, 405]);
    assert_eq!(
        codes(&["-X", "OPTIONS", "--request-target", "*"], "/"),
        [200, 400]
    );
    // The redirect leads both to the same index.
    let bodies = ports.map(|p| curl(&["-L", &format!("http://127.0.0.1:{p}/docs")]).stdout);
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[0], b"<a href=\"p.txt\">p</a>");
}
