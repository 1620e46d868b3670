//! The bench's own logic: every path moves exactly the file's bytes, the
//! counts follow the loops, and the outputs carry every required row and
//! field. Nothing here asserts a timing.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use weft_benches::{
    fnv1a, make_pieces, measure_raw, run, send_frames, send_raw, write_json, write_svg, Config,
    FrameMethod, Input, RawPath, Receiver,
};

/// An odd size: not a multiple of any chunk, so the tail is exercised.
const ODD: u64 = 3 * (1 << 20) + 12_345;

fn tiny_config() -> Config {
    Config {
        size: 1 << 20,
        runs: 1,
        frame_budget: Duration::from_millis(5),
        frame_max_bytes: 256 * 1024,
        progress: false,
        verify: true,
    }
}

#[test]
fn every_raw_path_delivers_exactly_the_files_bytes() {
    let input = Input::create(ODD).unwrap();
    for path in RawPath::ALL {
        // `verify` makes the receiver hash what it read; measure_raw fails
        // on a byte count or checksum that differs from the file.
        let s = measure_raw(path, &input, true).unwrap_or_else(|e| panic!("{}: {e}", path.name()));
        assert_eq!(s.bytes, ODD, "{}", path.name());
    }
}

#[test]
fn raw_path_counts_follow_the_loops() {
    let input = Input::create(ODD).unwrap();
    let chunks = |size: u64| ODD.div_ceil(size);
    for path in RawPath::ALL {
        let rx = Receiver::spawn(false).unwrap();
        let mut sock = rx.connect().unwrap();
        let c = send_raw(path, input.file(), input.len(), &mut sock).unwrap();
        drop(sock);
        assert_eq!(rx.join().unwrap().bytes, ODD);
        assert_eq!(c.sent, ODD, "{}", path.name());
        match path {
            RawPath::ReadWrite64K => {
                assert_eq!(c.user_bytes, ODD);
                // One pread per chunk, and at least one write per chunk.
                assert!(c.syscalls >= 2 * chunks(64 * 1024), "{c:?}");
            }
            RawPath::ReadWrite1M => {
                assert_eq!(c.user_bytes, ODD);
                assert!(c.syscalls >= 2 * chunks(1 << 20), "{c:?}");
            }
            RawPath::MmapWrite => {
                assert_eq!(c.user_bytes, 0);
                // mmap + munmap + at least one write per 1 MiB chunk.
                assert!(c.syscalls >= 2 + chunks(1 << 20), "{c:?}");
            }
            RawPath::Sendfile => {
                assert_eq!(c.user_bytes, 0);
                assert!(c.syscalls >= 1, "{c:?}");
            }
            RawPath::Splice => {
                assert_eq!(c.user_bytes, 0);
                // pipe + F_SETPIPE_SZ + two closes + file->pipe and pipe->socket per chunk.
                assert!(c.syscalls >= 4 + 2 * chunks(1 << 20), "{c:?}");
            }
        }
    }
}

#[test]
fn every_frame_method_sends_the_pieces_in_order() {
    let pieces = make_pieces(8, 1000);
    let mut frame = Vec::new();
    for p in &pieces {
        frame.extend_from_slice(p);
    }
    let expected: Vec<u8> = frame.repeat(5);
    for method in FrameMethod::ALL {
        let rx = Receiver::spawn(true).unwrap();
        let mut sock = rx.connect().unwrap();
        let (frames, c) =
            send_frames(method, &pieces, 5, Duration::from_secs(30), &mut sock).unwrap();
        drop(sock);
        let got = rx.join().unwrap();
        assert_eq!(frames, 5);
        assert_eq!(got.bytes, expected.len() as u64, "{}", method.name());
        assert_eq!(got.checksum, Some(fnv1a(&expected)), "{}", method.name());
        assert_eq!(c.sent, expected.len() as u64);
        match method {
            FrameMethod::PerPiece => assert_eq!((c.syscalls, c.user_bytes), (40, 0)),
            FrameMethod::Concat => {
                assert_eq!((c.syscalls, c.user_bytes), (5, expected.len() as u64))
            }
            FrameMethod::Writev => assert_eq!((c.syscalls, c.user_bytes), (5, 0)),
        }
    }
}

#[test]
fn frames_stop_at_the_frame_limit() {
    let pieces = make_pieces(2, 64);
    let rx = Receiver::spawn(false).unwrap();
    let mut sock = rx.connect().unwrap();
    let (frames, _) = send_frames(
        FrameMethod::Writev,
        &pieces,
        3,
        Duration::from_secs(30),
        &mut sock,
    )
    .unwrap();
    drop(sock);
    assert_eq!(frames, 3);
    assert_eq!(rx.join().unwrap().bytes, 3 * 128);
}

const REQUIRED_RAW: [&str; 5] = [
    "read+write 64KiB",
    "read+write 1MiB",
    "mmap+write",
    "sendfile",
    "splice",
];
const REQUIRED_FIELDS: [&str; 5] = [
    "path",
    "gbps",
    "cpu_s_per_gib",
    "syscalls_per_mib",
    "copied_per_byte",
];

fn check_json(text: &str) {
    let rows: serde_json::Value = serde_json::from_str(text).unwrap();
    let rows = rows.as_array().expect("a JSON array");
    for name in REQUIRED_RAW {
        assert!(rows.iter().any(|r| r["path"] == name), "row {name} missing");
    }
    for row in rows {
        for field in REQUIRED_FIELDS {
            let v = &row[field];
            if field == "path" {
                assert!(v.is_string(), "{row}");
            } else {
                assert!(v.as_f64().is_some_and(f64::is_finite), "{field} in {row}");
            }
        }
    }
    let weft: Vec<_> = rows
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("weft")))
        .collect();
    assert_eq!(weft.len(), weft_benches::WeftPath::ALL.len());
    assert!(weft.iter().any(|r| r["path"] == "weft FileRegion"));
    // 5 raw rows + 3 piece counts x 3 sizes x 3 methods.
    let frames = rows.iter().filter(|r| r["table"] == "frames").count();
    assert_eq!(frames, 27);
    for r in rows.iter().filter(|r| r["table"] == "frames") {
        assert!(r["syscalls_per_frame"].as_f64().is_some(), "{r}");
    }
    let rw = rows
        .iter()
        .find(|r| r["path"] == "read+write 64KiB")
        .unwrap();
    assert_eq!(rw["copied_per_byte"].as_f64(), Some(1.0));
    assert_eq!(rw["article_cpu_copies"].as_u64(), Some(2));
    let sf = rows.iter().find(|r| r["path"] == "sendfile").unwrap();
    assert_eq!(sf["copied_per_byte"].as_f64(), Some(0.0));
}

#[test]
fn json_has_every_required_row_and_field() {
    let rows = run(&tiny_config()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.json");
    write_json(&path, &rows).unwrap();
    check_json(&std::fs::read_to_string(&path).unwrap());

    let svg = dir.path().join("out.svg");
    write_svg(&svg, &rows).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"));
    for name in REQUIRED_RAW {
        assert!(text.contains(name), "{name} not labelled in the chart");
    }
}

/// Kills the child by PID if the test ends before it exits.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn binary_writes_tables_json_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let svg = dir.path().join("out.svg");
    let out = dir.path().join("stdout.txt");
    let err = dir.path().join("stderr.txt");
    let child = Command::new(env!("CARGO_BIN_EXE_weft-bench"))
        .args([
            "--quick",
            "--size",
            "1",
            "--runs",
            "1",
            "--frame-ms",
            "5",
            "--no-progress",
            "--json",
        ])
        .arg(&json)
        .arg("--svg")
        .arg(&svg)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "weft-bench did not finish"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "weft-bench failed: {}",
        std::fs::read_to_string(&err).unwrap_or_default()
    );
    let stdout = std::fs::read_to_string(&out).unwrap();
    for name in REQUIRED_RAW {
        assert!(
            stdout.contains(name),
            "{name} missing from stdout:\n{stdout}"
        );
    }
    assert!(stdout.contains("writev"));
    check_json(&std::fs::read_to_string(&json).unwrap());
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
}
