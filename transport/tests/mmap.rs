//! `FilePath::MmapWrite` under a read lease: a file truncated by another
//! process mid-send fails the write instead of killing the process with
//! SIGBUS.

mod common;

use std::io::{ErrorKind, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures::channel::oneshot;
use tokio::io::AsyncReadExt;
use tokio::time::timeout;
use weft_buf::FileRegion;
use weft_pipeline::Wire;
use weft_transport::{sys, FilePath, OutboundBuffer, Stats};

/// Kills the child by PID if the test ends before it exits.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Writes `len` pattern bytes to `path` and closes the writer (a read lease
/// needs the file open for writing nowhere); returns the bytes.
fn write_file(path: &Path, seed: u64, len: usize) -> Vec<u8> {
    let data = pattern(seed, len);
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&data).unwrap();
    drop(f);
    data
}

fn buffer() -> (OutboundBuffer, Arc<Stats>) {
    let stats = Arc::new(Stats::new());
    (OutboundBuffer::new(stats.clone()), stats)
}

#[tokio::test]
async fn mmap_write_of_a_read_only_file_sends_from_a_leased_mapping() {
    timeout(TEST_TIMEOUT, async {
        const LEN: usize = 3 << 20;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leased");
        let data = write_file(&path, 11, LEN);
        let region = FileRegion::open(&path).unwrap();
        let (a, b) = tcp_pair().await;
        let reader = tokio::spawn(hash_to_end(b));
        let (mut out, stats) = buffer();
        out.push_with_path(Wire::File(region), FilePath::MmapWrite, None);
        let ((), copied) = weft_buf::measure_copies(|| ());
        let before = weft_buf::thread_copied();
        out.flush_to(&a).await.unwrap();
        let copied = copied + weft_buf::thread_copied() - before;
        drop(a);
        assert_eq!(reader.await.unwrap().unwrap(), hash(&data));
        let s = stats.snapshot();
        // One lease and mapping, no pread: the bytes came from the mapping.
        assert_eq!((s.mmap_calls, s.read_calls), (1, 0), "{s:?}");
        assert_eq!((s.copy_bytes, copied), (LEN as u64, LEN as u64));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn mmap_write_without_a_lease_falls_back_to_read_and_write() {
    timeout(TEST_TIMEOUT, async {
        const LEN: usize = 1 << 20;
        // Open for writing by this process: the kernel refuses a read lease.
        let (file, want) = pattern_file(12, LEN);
        let (a, b) = tcp_pair().await;
        let reader = tokio::spawn(hash_to_end(b));
        let (mut out, stats) = buffer();
        out.push_with_path(
            Wire::File(FileRegion::from_file(file).unwrap()),
            FilePath::MmapWrite,
            None,
        );
        out.flush_to(&a).await.unwrap();
        drop(a);
        assert_eq!(reader.await.unwrap().unwrap(), want);
        let s = stats.snapshot();
        assert_eq!(s.mmap_calls, 1, "one lease attempt");
        assert!(s.read_calls >= (LEN / (64 * 1024)) as u64, "{s:?}");
        assert_eq!(s.copy_bytes, LEN as u64);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn file_truncated_by_another_process_during_mmap_write_fails_the_write_not_the_process() {
    timeout(TEST_TIMEOUT, async {
        const LEN: usize = 8 << 20;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shrinks");
        let data = write_file(&path, 13, LEN);
        let region = FileRegion::open(&path).unwrap();
        let (a, mut b) = tcp_pair().await;
        sys::set_send_buffer_size(a.as_fd(), 64 * 1024).unwrap();
        let (mut out, stats) = buffer();
        let (tx, rx) = oneshot::channel();
        out.push_with_path(Wire::File(region), FilePath::MmapWrite, Some(tx));
        let revoked_before = weft_buf::mapped::revocations();
        let flusher = tokio::spawn(async move {
            let r = out.flush_to(&a).await;
            (r, out)
        });
        // A slow reader: 16 KiB at a time with pauses, to the end.
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 16 * 1024];
            for i in 0u32..100_000 {
                if i % 8 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                match b.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            got
        });
        // Once the mapping is in use, truncate the file from another process.
        for _ in 0..5000 {
            if stats.snapshot().copy_bytes > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(stats.snapshot().copy_bytes > 0, "the send never started");
        // truncate(1) opens with O_NONBLOCK: while the lease is held the
        // open fails with EAGAIN (having started the lease break), so it is
        // run again until the watcher has snapshotted the mapping and let
        // the lease go.
        let mut truncated = false;
        for _ in 0..200 {
            let mut child = ChildGuard(
                Command::new("truncate")
                    .args(["-s", "0"])
                    .arg(&path)
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            let mut status = None;
            for _ in 0..5000 {
                if let Some(s) = child.0.try_wait().unwrap() {
                    status = Some(s);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            if status.expect("truncate hung").success() {
                truncated = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(truncated, "truncate never succeeded");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);

        let (r, out) = flusher.await.unwrap();
        // Still alive (no SIGBUS), and the write failed with a clear error.
        let err = r.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "{err}");
        assert!(
            err.to_string().contains("changed during mmap + write"),
            "{err}"
        );
        assert!(rx.await.unwrap().is_err());
        assert!(out.is_empty());
        drop(out);
        let got = reader.await.unwrap();
        assert!(got.len() < LEN, "the send ended short");
        assert_eq!(
            got[..],
            data[..got.len()],
            "what arrived is the file's prefix"
        );
        assert!(weft_buf::mapped::revocations() > revoked_before);
        let s = stats.snapshot();
        assert_eq!(s.copy_bytes, got.len() as u64);
        assert_eq!(s.read_calls, 0, "sent from the mapping, not by pread");
    })
    .await
    .unwrap();
}
