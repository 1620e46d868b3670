//! Mapped files: zero-copy creation, and survival when another process
//! truncates the file under a live view.

use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use bytes::Bytes;
use weft_buf::mapped::{revocations, LeasePolicy, MappedFile, Protection};
use weft_buf::{measure_copies, BufError, CompositeBuf};

/// Kills the child by PID if the test ends before it was reaped.
struct ChildGuard(Option<Child>);

impl ChildGuard {
    fn spawn(cmd: &mut Command) -> ChildGuard {
        ChildGuard(Some(cmd.spawn().expect("spawn child")))
    }

    /// Waits at most `limit` for the child to exit.
    fn wait_bounded(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        let child = self.0.as_mut().expect("child present");
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.0 = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "child {} did not finish within {limit:?}",
                child.id()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

#[test]
fn mapping_a_file_copies_nothing_and_views_share_the_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let data = pattern(3 * 4096 + 17);
    std::fs::write(&path, &data).unwrap();

    let (file, copied) = measure_copies(|| MappedFile::open(&path, LeasePolicy::Refuse).unwrap());
    assert_eq!(copied, 0);
    assert_eq!(file.protection(), Protection::Leased);
    assert!(!file.was_revoked());

    let whole = file.bytes();
    let (part, copied) = measure_copies(|| whole.slice(4096..8192));
    assert_eq!(copied, 0);
    assert_eq!(part.as_ptr(), whole[4096..].as_ptr());
    assert_eq!(whole, data[..]);

    let frame: CompositeBuf = [Bytes::from_static(b"hdr"), part].into_iter().collect();
    assert_eq!(frame.len(), 3 + 4096);
}

#[test]
fn refused_lease_fails_under_refuse_and_counts_the_copy_under_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy");
    let data = pattern(10_000);
    std::fs::write(&path, &data).unwrap();
    // An open writer (ours) makes a read lease impossible.
    let _writer = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();

    match MappedFile::open(&path, LeasePolicy::Refuse) {
        Err(BufError::Unprotected { source }) => {
            assert_eq!(source.raw_os_error(), Some(libc::EAGAIN));
        }
        other => panic!("expected Unprotected, got {other:?}"),
    }

    let (file, copied) = measure_copies(|| MappedFile::open(&path, LeasePolicy::Copy).unwrap());
    assert_eq!(file.protection(), Protection::Copied);
    assert_eq!(copied, data.len() as u64);
    assert_eq!(file.bytes(), data[..]);
}

/// Reads every byte of `view` (through a volatile read, so no page is
/// skipped) and compares with `expected`.
fn touch_every_byte(view: &Bytes, expected: &[u8]) {
    assert_eq!(view.len(), expected.len());
    for (i, (b, e)) in view.iter().zip(expected).enumerate() {
        // SAFETY: `b` is a valid reference into the view.
        let v = unsafe { std::ptr::read_volatile(b) };
        assert_eq!(v, *e, "byte {i} changed");
    }
}

#[test]
fn truncation_by_another_process_is_reported_and_views_keep_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("victim");
    let data = pattern(64 * 1024 + 123);
    std::fs::write(&path, &data).unwrap();

    let file = MappedFile::open(&path, LeasePolicy::Refuse).unwrap();
    assert_eq!(file.protection(), Protection::Leased);
    let whole = file.bytes();
    let tail = whole.slice(60_000..);
    let before = revocations();

    // `: > path` opens with O_TRUNC and blocks until the lease is released.
    let mut truncater = ChildGuard::spawn(
        Command::new("sh")
            .arg("-c")
            .arg(": > \"$1\"")
            .arg("sh")
            .arg(&path),
    );
    let started = Instant::now();
    let status = truncater.wait_bounded(Duration::from_secs(20));
    // Informational only (tests never assert timings).
    eprintln!("truncater finished after {:?}", started.elapsed());
    assert!(status.success(), "truncater failed: {status}");
    assert_eq!(file_len(&path), 0, "the file really was truncated");

    assert!(file.was_revoked());
    assert!(revocations() > before);
    // Without the snapshot these reads would raise SIGBUS and kill the test.
    touch_every_byte(&whole, &data);
    touch_every_byte(&tail, &data[60_000..]);
    drop(file);
    touch_every_byte(&whole, &data);
}

#[test]
fn coreutils_truncate_is_held_off_until_the_snapshot_is_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("victim2");
    let data = pattern(5 * 4096);
    std::fs::write(&path, &data).unwrap();

    let view = weft_buf::mapped::map_file(&path, LeasePolicy::Refuse).unwrap();

    // GNU truncate opens with O_NONBLOCK: while the lease is held, the open
    // fails with EAGAIN but starts the lease break. Retry (bounded) until
    // the watcher has released the lease and truncate succeeds.
    let mut truncated = false;
    for _ in 0..400 {
        let mut t = ChildGuard::spawn(
            Command::new("truncate")
                .arg("-s")
                .arg("0")
                .arg(&path)
                .stderr(std::process::Stdio::null()),
        );
        if t.wait_bounded(Duration::from_secs(20)).success() {
            truncated = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(truncated, "truncate never succeeded");
    assert_eq!(file_len(&path), 0);
    touch_every_byte(&view, &data);
}

#[test]
fn a_write_by_another_process_does_not_change_existing_views() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rewritten");
    let data = pattern(3 * 4096);
    std::fs::write(&path, &data).unwrap();

    let file = MappedFile::open(&path, LeasePolicy::Refuse).unwrap();
    assert_eq!(file.protection(), Protection::Leased);
    let view = file.bytes();

    // `dd conv=notrunc` opens for writing without truncating: the lease
    // break holds it back until the view is a private snapshot.
    let mut writer = ChildGuard::spawn(
        Command::new("sh")
            .arg("-c")
            .arg("printf ZZZZ | dd of=\"$1\" bs=1 seek=100 conv=notrunc 2>/dev/null")
            .arg("sh")
            .arg(&path),
    );
    let status = writer.wait_bounded(Duration::from_secs(20));
    assert!(status.success(), "writer failed: {status}");
    assert_eq!(&std::fs::read(&path).unwrap()[100..104], b"ZZZZ");

    assert!(file.was_revoked());
    touch_every_byte(&view, &data);

    // A new mapping sees the new content and is leased again.
    let fresh = MappedFile::open(&path, LeasePolicy::Refuse).unwrap();
    assert_eq!(fresh.protection(), Protection::Leased);
    assert_eq!(&fresh.bytes()[100..104], b"ZZZZ");
    assert!(!fresh.was_revoked());
}

#[test]
fn two_mappings_of_one_file_are_both_protected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twice");
    let data = pattern(2 * 4096 + 1);
    std::fs::write(&path, &data).unwrap();

    let a = MappedFile::open(&path, LeasePolicy::Refuse).unwrap();
    let b = MappedFile::open(&path, LeasePolicy::Refuse).unwrap();
    let (va, vb) = (a.bytes(), b.bytes());
    drop((a, b));

    let mut truncater = ChildGuard::spawn(
        Command::new("sh")
            .arg("-c")
            .arg(": > \"$1\"")
            .arg("sh")
            .arg(&path),
    );
    assert!(truncater.wait_bounded(Duration::from_secs(20)).success());
    assert_eq!(file_len(&path), 0);
    touch_every_byte(&va, &data);
    touch_every_byte(&vb, &data);
}
