//! Starting the real `weft` binary (or any child) for a test and stopping it
//! again, by PID, whatever happens. Shared by every test that runs the
//! binary: http, echo, proxy, resp, log, and (through `hardening_support`)
//! the hardening and load tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any one step of a test may take before it fails.
pub(crate) const STEP: Duration = Duration::from_secs(20);

/// How long a server may take to print its first line, or to exit after
/// SIGTERM.
pub(crate) const PROCESS_WAIT: Duration = Duration::from_secs(30);

/// A command that runs the `weft` binary under test.
pub(crate) fn weft() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weft"))
}

/// Reads lines of a child's stdout on a thread (line endings removed), so
/// reads can time out. The channel closes when the child closes stdout.
pub(crate) fn line_reader(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            match line {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    });
    rx
}

/// Waits for `child` to exit, at most `limit`; on overrun it is killed by
/// PID and reaped, and `None` is returned.
pub(crate) fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A child process with its stdout read line by line on a thread; killed
/// by PID and reaped when dropped, also when a test fails.
pub(crate) struct Proc {
    child: Option<Child>,
    /// The child's PID (the server's own when started through an exec
    /// wrapper such as `prlimit`).
    pub(crate) pid: i32,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    /// Spawns `cmd` with stdin closed and stdout piped; stderr goes where
    /// `cmd` says (inherited unless set).
    pub(crate) fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let pid = child.id() as i32;
        let lines = line_reader(child.stdout.take().expect("stdout"));
        Proc {
            child: Some(child),
            pid,
            lines,
        }
    }

    /// The next stdout line (without its line ending), waiting at most
    /// `limit`; `None` on timeout or once stdout is closed.
    pub(crate) fn next_line(&self, limit: Duration) -> Option<String> {
        self.lines.recv_timeout(limit).ok()
    }

    /// True while the process runs.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Sends SIGKILL and reaps the process.
    pub(crate) fn kill9(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits (bounded by [`PROCESS_WAIT`]) for the exit;
    /// returns the exit status and every stdout line not yet read, each
    /// ended by `\n`.
    pub(crate) fn terminate(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        // SAFETY: plain kill(2) on the PID of a child we own and have not
        // reaped; it has no memory effects.
        assert_eq!(unsafe { libc::kill(self.pid, libc::SIGTERM) }, 0);
        let status = wait_bounded(&mut child, PROCESS_WAIT)
            .unwrap_or_else(|| panic!("no exit within {PROCESS_WAIT:?} of SIGTERM"));
        let mut out = String::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            out.push_str(&line);
            out.push('\n');
        }
        (status, out)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A running `weft` server: a [`Proc`] whose first stdout line was
/// `listening on ADDR`. Killed by PID when dropped.
pub(crate) struct Server {
    proc: Proc,
    /// The address the server really bound (never port 0).
    pub(crate) addr: SocketAddr,
    /// The server's PID.
    pub(crate) pid: i32,
}

impl Server {
    /// Starts `weft <args> --listen 127.0.0.1:0` with stderr inherited.
    pub(crate) fn start(args: &[&str]) -> Server {
        Server::start_cmd(weft(), args)
    }

    /// As [`start`](Self::start), with the server's stderr discarded (for
    /// tests whose hostile input would fill the log).
    pub(crate) fn start_quiet(args: &[&str]) -> Server {
        let mut cmd = weft();
        cmd.stderr(Stdio::null());
        Server::start_cmd(cmd, args)
    }

    /// Starts `cmd <args> --listen 127.0.0.1:0`, where `cmd` is `weft` or
    /// a wrapper such as `prlimit ... weft` that execs the binary, so the
    /// PID is the server's. The port comes from the first stdout line,
    /// which must be exactly `listening on ADDR`.
    pub(crate) fn start_cmd(mut cmd: Command, args: &[&str]) -> Server {
        cmd.args(args).args(["--listen", "127.0.0.1:0"]);
        let proc = Proc::spawn(cmd);
        let first = proc
            .next_line(PROCESS_WAIT)
            .expect("weft printed no first line in time");
        let addr: SocketAddr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line is `listening on ADDR`, got {first:?}"))
            .trim_end()
            .parse()
            .expect("an address in the first line");
        assert_ne!(addr.port(), 0, "the real bound port is printed");
        Server {
            pid: proc.pid,
            proc,
            addr,
        }
    }

    /// `http://ADDR/path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The next stdout line after those already read, waiting at most
    /// `limit`.
    pub(crate) fn next_line(&self, limit: Duration) -> Option<String> {
        self.proc.next_line(limit)
    }

    /// True while the server runs.
    pub(crate) fn alive(&mut self) -> bool {
        self.proc.alive()
    }

    /// Sends SIGKILL and reaps the server.
    pub(crate) fn kill9(self) {
        self.proc.kill9()
    }

    /// Sends SIGTERM and waits (bounded) for a graceful exit; returns the
    /// exit status and what the server printed after its first line.
    pub(crate) fn terminate(self) -> (ExitStatus, String) {
        self.proc.terminate()
    }

    /// Resident set size in KiB (VmRSS).
    pub(crate) fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .expect("server /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS line")
    }

    /// Open descriptors of the server.
    pub(crate) fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .expect("server /proc fd")
            .count()
    }

    /// Waits (bounded) until the server holds `want` descriptors; returns
    /// the last count seen.
    pub(crate) fn settle_fds(&self, want: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let n = self.fds();
            if n == want || Instant::now() > deadline {
                return n;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Runs a command with a bounded time; it is killed by PID if it overruns.
pub(crate) fn run(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn client");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let status = wait_bounded(&mut child, STEP * 3)
        .unwrap_or_else(|| panic!("{cmd:?} did not finish in time"));
    Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// curl with a bounded time, no progress meter, errors shown.
pub(crate) fn curl(args: &[&str]) -> Output {
    run(Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args))
}
