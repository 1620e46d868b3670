//! A file truncated while it is being sent, once per file path of the
//! transport's outbound buffer (sendfile, mmap + write, pread + write,
//! splice): the process survives (no SIGBUS), the write fails with an
//! error or ends short, the receiver sees a prefix of the file and then
//! the end of the stream, no descriptor is left behind (the splice pipe,
//! the mapping's file), and the next send of the now shorter file works.
//! The `weft http` server sends by sendfile only; its end-to-end case is in
//! `hardening_faults.rs`.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::time::timeout;
use weft_buf::FileRegion;
use weft_pipeline::Wire;
use weft_transport::{FilePath, OutboundBuffer, Stats};

const LEN: usize = 16 << 20;
const STEP: Duration = Duration::from_secs(30);

fn self_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// What each open descriptor points at, for a leak message.
fn fd_targets() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let t = std::fs::read_link(e.path()).ok()?;
            Some(format!(
                "{}->{}",
                e.file_name().to_string_lossy(),
                t.display()
            ))
        })
        .collect();
    v.sort();
    v
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 253) as u8).collect()
}

async fn tcp_pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (c, s) = tokio::join!(tokio::net::TcpStream::connect(addr), l.accept());
    (c.unwrap(), s.unwrap().0)
}

async fn read_all(mut b: tokio::net::TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        match b.read(&mut buf).await {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends `LEN` bytes of a file by `path`, truncating the file to 1 MiB once
/// the first bytes are out. Returns (flush result, bytes received).
async fn send_while_truncating(path: FilePath) -> (std::io::Result<()>, Vec<u8>, Vec<u8>) {
    let data = pattern(LEN);
    let dir = tempfile::tempdir().unwrap();
    let file_path = dir.path().join("f.bin");
    std::fs::write(&file_path, &data).unwrap();
    // Opened read-only, so a read lease can be taken (MmapWrite); the
    // truncation comes from another process, as it would in production.
    let file = Arc::new(std::fs::File::open(&file_path).unwrap());
    let (a, mut b) = tcp_pair().await;
    let stats = Arc::new(Stats::new());
    let mut out: OutboundBuffer = OutboundBuffer::new(stats.clone());
    out.push_with_path(
        Wire::File(FileRegion::new(file.clone(), 0, LEN as u64).unwrap()),
        path,
        None,
    );
    out.flush();
    let flusher = tokio::spawn(async move {
        let r = out.flush_to(&a).await;
        drop(out);
        drop(a);
        r
    });
    // Receive the first 256 KiB, then cut the file to 1 MiB.
    let mut first = vec![0u8; 256 << 10];
    b.read_exact(&mut first).await.unwrap();
    // truncate(1) opens with O_NONBLOCK: against a read lease it fails
    // with EAGAIN while the holder is told to let go; retry (bounded).
    let mut done = false;
    for _ in 0..100 {
        let out = tokio::process::Command::new("truncate")
            .args(["-s", "1048576"])
            .arg(&file_path)
            .output()
            .await
            .expect("run truncate");
        if out.status.success() {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(done, "{path:?}: the file could not be truncated");
    // Only now drain the socket: until here the sender was held up by the
    // full socket buffers, in the middle of the region.
    let reader = tokio::spawn(read_all(b));
    let r = flusher.await.expect("the flusher panicked");
    let mut got = first;
    got.extend(reader.await.unwrap());
    drop(file);
    (r, got, data)
}

async fn case(path: FilePath) {
    let fds = self_fds();
    let targets = fd_targets();
    let (r, got, data) = timeout(STEP, send_while_truncating(path))
        .await
        .unwrap_or_else(|_| panic!("{path:?}: the send hung after truncation"));
    println!(
        "{path:?}: flush {:?}, {} of {LEN} bytes received",
        r.as_ref().map_err(|e| e.to_string()),
        got.len()
    );
    assert!(
        got.len() < LEN,
        "{path:?}: a truncated file cannot arrive whole"
    );
    assert!(
        r.is_err(),
        "{path:?}: a truncated send must fail, not succeed short"
    );
    // Whatever arrived is the file's bytes, in order (bytes past the new
    // end, if any, were already on their way: only a prefix is checked).
    let n = got.len().min(1 << 20);
    assert_eq!(
        got[..n],
        data[..n],
        "{path:?}: received bytes differ from the file"
    );
    // Nothing is left open.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while self_fds() > fds && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        self_fds() <= fds,
        "{path:?}: descriptors leaked: before {targets:?} after {:?}",
        fd_targets()
    );
}

/// The next send of the now shorter file, by the same path, is whole.
async fn next_send_works(path: FilePath) {
    let data = pattern(2 << 20);
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(&data).unwrap();
    let (a, b) = tcp_pair().await;
    let mut out: OutboundBuffer = OutboundBuffer::new(Arc::new(Stats::new()));
    out.push_with_path(Wire::File(FileRegion::from_file(f).unwrap()), path, None);
    out.flush();
    let reader = tokio::spawn(read_all(b));
    timeout(STEP, out.flush_to(&a)).await.unwrap().unwrap();
    drop(a);
    assert_eq!(reader.await.unwrap(), data, "{path:?}");
}

/// One test for every path, run one after another: descriptors are
/// counted in /proc/self/fd, which parallel tests would disturb.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_truncated_while_sent_fails_cleanly_on_every_file_path_without_sigbus() {
    for path in [
        FilePath::Sendfile,
        FilePath::MmapWrite,
        FilePath::ReadWrite,
        FilePath::Splice,
    ] {
        // The first send creates what lives for the whole process (the
        // lease watcher's self-pipe); the leak check starts after it.
        next_send_works(path).await;
        case(path).await;
        next_send_works(path).await;
    }
}
