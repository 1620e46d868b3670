//! `weft log` driven by its real client, `weft log-client`, and by raw
//! sockets for requests that client never sends.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::{weft, Proc, Server};

/// Bound on every wait in these tests.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A `weft log` broker: the shared [`Server`] guard (killed by PID when
/// dropped, also when a test fails) and its clients.
struct Broker {
    server: Server,
}

impl Broker {
    fn start(dir: &Path, extra: &[&str]) -> Broker {
        let dir = dir.to_str().expect("a UTF-8 temporary directory");
        let args: Vec<&str> = ["log", "--dir", dir].iter().chain(extra).copied().collect();
        Broker {
            server: Server::start(&args),
        }
    }

    /// SIGTERM, then the exit status and the line the broker prints last.
    fn stop(self) -> String {
        let (status, out) = self.server.terminate();
        assert!(status.success(), "{status:?}");
        out.lines().next().expect("a summary line").to_string()
    }

    fn client(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = weft()
            .args(["log-client", "--addr", &self.server.addr.to_string()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start weft log-client");
        let mut input = child.stdin.take().expect("stdin");
        let data = stdin.to_vec();
        std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
        // Output is collected on a thread while we wait, so a client that
        // prints more than a pipe holds cannot block.
        let pid = child.id() as libc::pid_t;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(TIMEOUT) {
            Ok(out) => out.expect("output"),
            Err(_) => {
                // SAFETY: `pid` is our child, not yet reaped (the waiting
                // thread has not returned); kill has no memory effects.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                panic!("log-client {args:?} did not finish in {TIMEOUT:?}");
            }
        }
    }

    fn produce(&self, lines: &str, batch: usize) -> Vec<u64> {
        let out = self.client(
            &["produce", "--batch", &batch.to_string()],
            lines.as_bytes(),
        );
        assert!(out.status.success(), "produce: {out:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.parse().expect("an offset per line"))
            .collect()
    }

    fn fetch(&self, offset: u64, max_bytes: u32) -> String {
        let out = self.client(
            &[
                "fetch",
                "--offset",
                &offset.to_string(),
                "--max-bytes",
                &max_bytes.to_string(),
            ],
            b"",
        );
        assert!(out.status.success(), "fetch: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }
}

fn records(from: usize, to: usize) -> String {
    (from..to)
        .map(|i| format!("record {i} {}\n", "x".repeat(i % 61)))
        .collect()
}

#[test]
fn records_produced_from_stdin_fetch_back_identical_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(dir.path(), &["--segment-bytes", "8192"]);
    let input = records(0, 2000);
    let offsets = b.produce(&input, 250);
    // Each acknowledged batch prints its first offset; batches cover the input.
    assert_eq!(offsets.first(), Some(&0));
    assert!(
        offsets
            .windows(2)
            .all(|w| w[0] < w[1] && w[1] - w[0] <= 250),
        "{offsets:?}"
    );
    assert!(
        offsets.len() >= 8 && *offsets.last().unwrap() < 2000,
        "{offsets:?}"
    );
    assert_eq!(b.fetch(0, 1 << 20), input);
    // Small fetches (one record over the budget still comes) give the same.
    assert_eq!(b.fetch(0, 100), input);
    assert_eq!(b.fetch(1234, 4096), records(1234, 2000));
    // Segment files rolled at 8 KiB.
    let logs = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        })
        .count();
    assert!(logs > 5, "only {logs} segments");
    // Fetches went out by sendfile, with no copy.
    let summary = b.stop();
    let sendfile: u64 = summary
        .strip_prefix("sent ")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("summary line: {summary:?}"));
    let fetched = 3 * input.len() as u64; // at least the payloads of three fetches
    assert!(sendfile > fetched, "{summary}");
    assert!(summary.ends_with("; 0 bytes copied"), "{summary}");
}

#[test]
fn restart_cuts_a_record_torn_mid_write_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let input = records(0, 500);
    {
        let b = Broker::start(
            dir.path(),
            &["--segment-bytes", "8192", "--fsync", "always"],
        );
        let offsets = b.produce(&input, 100);
        assert_eq!(offsets.first(), Some(&0));
        assert!(offsets.len() >= 5, "{offsets:?}");
        b.stop();
    }
    // Tear the last record: cut the newest segment 3 bytes short.
    let mut logs: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    let last = logs.last().unwrap();
    let len = std::fs::metadata(last).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(last)
        .unwrap()
        .set_len(len - 3)
        .unwrap();

    let b = Broker::start(dir.path(), &["--segment-bytes", "8192"]);
    assert_eq!(b.fetch(0, 1 << 20), records(0, 499));
    // The torn record's offset is free again; the log goes on from there.
    assert_eq!(b.produce("again\n", 10), vec![499]);
    assert_eq!(b.fetch(498, 1 << 20), records(498, 499) + "again\n");
    b.stop();
}

#[test]
fn fetch_beyond_the_end_is_a_clear_error_and_at_the_end_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(dir.path(), &[]);
    assert_eq!(b.produce("a\nb\n", 10), vec![0]);
    assert_eq!(b.fetch(2, 1 << 20), "");
    let out = b.client(&["fetch", "--offset", "3"], b"");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("offset 3 is beyond the end of the log (next offset is 2)"),
        "{err}"
    );
}

#[test]
fn follow_prints_records_produced_after_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(dir.path(), &[]);
    assert_eq!(b.produce("first\n", 10), vec![0]);
    let mut cmd = weft();
    cmd.args([
        "log-client",
        "--addr",
        &b.server.addr.to_string(),
        "fetch",
        "--offset",
        "0",
        "--follow",
    ]);
    let follower = Proc::spawn(cmd);
    assert_eq!(follower.next_line(TIMEOUT).unwrap(), "first");
    assert_eq!(b.produce("second\nthird\n", 10), vec![1]);
    assert_eq!(follower.next_line(TIMEOUT).unwrap(), "second");
    assert_eq!(follower.next_line(TIMEOUT).unwrap(), "third");
}

fn answer(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    (body[0], body[1..].to_vec())
}

#[test]
fn bad_requests_are_answered_and_only_a_broken_frame_closes() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(dir.path(), &[]);
    let mut s = TcpStream::connect(b.server.addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();

    // Unknown kind: answered, connection kept.
    s.write_all(&[0, 0, 0, 1, 9]).unwrap();
    let (status, msg) = answer(&mut s);
    assert_eq!(
        (status, String::from_utf8_lossy(&msg).as_ref()),
        (2, "unknown request kind 9")
    );
    // A produce claiming four billion records in nine bytes.
    s.write_all(&[0, 0, 0, 5, 1, 0xff, 0xff, 0xff, 0xff])
        .unwrap();
    let (status, msg) = answer(&mut s);
    assert_eq!(status, 2);
    assert!(String::from_utf8_lossy(&msg).contains("claims 4294967295 records"));
    // A record over the 16 MiB record limit (the length alone is checked).
    s.write_all(&[0, 0, 0, 9, 1, 0, 0, 0, 1, 0x02, 0, 0, 0])
        .unwrap();
    let (status, _) = answer(&mut s);
    assert_eq!(status, 4);
    // A good fetch still works on this connection.
    s.write_all(&[
        0, 0, 0, 17, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0,
    ])
    .unwrap();
    let (status, body) = answer(&mut s);
    assert_eq!((status, body.len()), (0, 16));

    // A frame length of 4 GiB: answered, then closed.
    s.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]).unwrap();
    let (status, msg) = answer(&mut s);
    assert_eq!(status, 2);
    assert!(String::from_utf8_lossy(&msg).contains("over the 33554432-byte limit"));
    let mut rest = [0u8; 1];
    assert!(matches!(s.read(&mut rest), Ok(0) | Err(_)));

    // The broker is fine.
    assert_eq!(b.produce("still here\n", 10), vec![0]);
}

#[test]
fn a_full_disk_is_answered_as_a_storage_error_and_the_broker_goes_on() {
    // The active segment is /dev/full: every write fails with ENOSPC.
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.path().join("00000000000000000000.log")).unwrap();
    let b = Broker::start(dir.path(), &["--fsync", "always"]);
    let out = b.client(&["produce"], b"lost\n");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broker: storage error: No space left on device"),
        "{err}"
    );
    // Nothing was acknowledged, so nothing is in the log, and it still answers.
    assert_eq!(b.fetch(0, 1 << 20), "");
    let out = b.client(&["fetch", "--offset", "1"], b"");
    assert!(String::from_utf8_lossy(&out.stderr).contains("next offset is 0"));
}

/// Checks a FETCH answer's records (dense offsets from `from`, each CRC)
/// and returns the offset after the last one and the log end.
fn check_records(from: u64, body: &[u8]) -> (u64, u64) {
    use weft_examples::log::record::{RecordHeader, RECORD_HEADER_LEN};
    let first = u64::from_be_bytes(body[..8].try_into().unwrap());
    let log_end = u64::from_be_bytes(body[8..16].try_into().unwrap());
    assert_eq!(first, from, "the answer starts where asked");
    let mut recs = &body[16..];
    let mut next = from;
    while !recs.is_empty() {
        let h = RecordHeader::decode(recs[..RECORD_HEADER_LEN].try_into().unwrap());
        let end = RECORD_HEADER_LEN + h.len as usize;
        assert!(end <= recs.len(), "record {next} is cut short");
        assert_eq!(h.offset, next, "offsets are dense");
        assert!(
            h.matches(&[&recs[RECORD_HEADER_LEN..end]]),
            "CRC of record {next}"
        );
        recs = &recs[end..];
        next += 1;
    }
    (next, log_end)
}

#[test]
fn a_consumer_fetching_while_retention_deletes_gets_offset_out_of_range_never_garbage() {
    use weft_examples::log::protocol::{encode_fetch, encode_produce};
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(
        dir.path(),
        &[
            "--segment-bytes",
            "2048",
            "--retain-bytes",
            "8192",
            "--fsync",
            "never",
        ],
    );
    let addr = b.server.addr;
    const BATCHES: u64 = 200;
    const PER_BATCH: u64 = 10;
    let producer = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        for batch in 0..BATCHES {
            let payloads: Vec<Vec<u8>> = (0..PER_BATCH)
                .map(|i| format!("batch {batch:03} record {i} {}", "y".repeat(80)).into_bytes())
                .collect();
            let refs: Vec<&[u8]> = payloads.iter().map(|p| &p[..]).collect();
            s.write_all(&encode_produce(&refs)).unwrap();
            let (status, body) = answer(&mut s);
            assert_eq!(status, 0, "{}", String::from_utf8_lossy(&body));
        }
    });

    // A consumer that reads two records a fetch lags behind the producer,
    // so retention deletes segments it has not read yet; a second one keeps
    // asking for offset 0.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut next = 0u64;
    let (mut records, mut skipped, mut zero_gone) = (0u64, 0u64, 0u64);
    let total = BATCHES * PER_BATCH;
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the consumer did not reach the end: at {next} of {total}"
        );
        for from in [0, next] {
            // At the end of the log the lagging consumer waits (long poll)
            // instead of spinning while the producer is slow.
            let wait = if from == next { 100 } else { 0 };
            s.write_all(&encode_fetch(from, 300, wait)).unwrap();
            let (status, body) = answer(&mut s);
            match status {
                0 => {
                    let (after, _) = check_records(from, &body);
                    if from == next {
                        records += after - next;
                        next = after;
                    }
                }
                1 => {
                    let msg = String::from_utf8(body).unwrap();
                    let prefix =
                        format!("offset {from} is out of range: retention deleted the records before offset ");
                    let start: u64 = msg
                        .strip_prefix(&prefix)
                        .unwrap_or_else(|| panic!("a clear out-of-range message: {msg:?}"))
                        .parse()
                        .unwrap();
                    assert!(start > from, "{msg}");
                    if from == 0 {
                        zero_gone += 1;
                    } else {
                        skipped += start - next;
                        next = start;
                    }
                }
                other => panic!("status {other} for offset {from}"),
            }
        }
        if next == total {
            break;
        }
    }
    producer.join().unwrap();
    assert_eq!(
        records + skipped,
        total,
        "every offset read or reported deleted"
    );
    assert!(
        skipped > 0,
        "the lagging consumer was overtaken by retention"
    );
    assert!(zero_gone > 0);
    // The segments left on disk hold at least the retained bytes, and
    // offset 0 is gone for good.
    s.write_all(&encode_fetch(0, 300, 0)).unwrap();
    assert_eq!(answer(&mut s).0, 1);
    let logs = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        })
        .count();
    // 1,230-byte batches, one to a 2,048-byte segment: 8,192 bytes are 7 of
    // them, and an eighth may wait for the next roll, beside the active one.
    assert!((7..=9).contains(&logs), "{logs} segments left");
    b.stop();
}

#[test]
fn a_fetch_near_a_segment_end_answers_the_next_segments_in_the_same_response() {
    use weft_examples::log::protocol::{encode_fetch, encode_produce};
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(dir.path(), &["--segment-bytes", "2048"]);
    let mut s = TcpStream::connect(b.server.addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    // 40 records of 116 bytes, one a produce: 17 to a 2,048-byte segment.
    for i in 0..40 {
        let payload = format!("record {i:02} {}", "z".repeat(90));
        s.write_all(&encode_produce(&[payload.as_bytes()])).unwrap();
        assert_eq!(answer(&mut s).0, 0);
    }
    let logs = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        })
        .count();
    assert_eq!(logs, 3);
    // Two records before the first roll: one answer runs to the end of
    // the log, across both rolls.
    s.write_all(&encode_fetch(15, 1 << 20, 0)).unwrap();
    let (status, body) = answer(&mut s);
    assert_eq!(status, 0);
    assert_eq!(check_records(15, &body), (40, 40));
    // A budget of three records stops one record into the next segment.
    s.write_all(&encode_fetch(15, 3 * 116, 0)).unwrap();
    let (status, body) = answer(&mut s);
    assert_eq!(status, 0);
    assert_eq!(check_records(15, &body), (18, 40));
    b.stop();
}

#[test]
fn a_line_split_across_the_producers_batch_linger_arrives_whole() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(dir.path(), &[]);
    let mut child = weft()
        .args([
            "log-client",
            "--addr",
            &b.server.addr.to_string(),
            "produce",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start weft log-client");
    let mut input = child.stdin.take().expect("stdin");
    // The client sends "first" once no more input comes for its 5 ms
    // linger; the half line read meanwhile must not be lost.
    input.write_all(b"first\nsec").unwrap();
    input.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    input.write_all(b"ond\nthird").unwrap();
    drop(input);
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(TIMEOUT) {
        Ok(out) => out.expect("output"),
        Err(_) => {
            // SAFETY: `pid` is our child, not yet reaped; kill has no
            // memory effects.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("log-client produce did not finish in {TIMEOUT:?}");
        }
    };
    assert!(out.status.success(), "{out:?}");
    assert_eq!(b.fetch(0, 1 << 20), "first\nsecond\nthird\n");
    b.stop();
}

#[test]
fn retain_age_deletes_sealed_segments_once_they_are_older_but_keeps_the_active_one() {
    use weft_examples::log::protocol::{encode_fetch, encode_produce};
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(
        dir.path(),
        &["--segment-bytes", "2048", "--retain-age", "1s"],
    );
    let mut s = TcpStream::connect(b.server.addr).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    // 40 records of 116 bytes: segments from 0, 17 and 34 (the active one).
    for i in 0..40 {
        let payload = format!("record {i:02} {}", "z".repeat(90));
        s.write_all(&encode_produce(&[payload.as_bytes()])).unwrap();
        assert_eq!(answer(&mut s).0, 0);
    }
    // The broker's timer deletes the two sealed segments a second after
    // their last append (one pass may see only the older one past its
    // age); the active one stays however old it gets.
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut seen = Vec::new();
    loop {
        s.write_all(&encode_fetch(0, 1 << 20, 0)).unwrap();
        let (status, body) = answer(&mut s);
        let now = (
            status,
            String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned(),
        );
        if seen.last() != Some(&now) {
            seen.push(now);
        }
        if status == 1 && body.ends_with(b"before offset 34") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{seen:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out_of_range: Vec<&String> = seen
        .iter()
        .filter(|(st, _)| *st == 1)
        .map(|(_, m)| m)
        .collect();
    for m in &out_of_range {
        assert!(
            *m == "offset 0 is out of range: retention deleted the records before offset 17"
                || *m == "offset 0 is out of range: retention deleted the records before offset 34",
            "{m}"
        );
    }
    s.write_all(&encode_fetch(34, 1 << 20, 0)).unwrap();
    let (status, body) = answer(&mut s);
    assert_eq!(status, 0);
    assert_eq!(check_records(34, &body), (40, 40));
    b.stop();
}
