//! Tests of [`Log`](super::Log): offsets, fetches across segments, retention, recovery.
use super::*;
use bytes::Bytes;

fn r(s: String) -> CompositeBuf {
    CompositeBuf::from(Bytes::from(s))
}

#[test]
fn offsets_continue_across_rolls_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_bytes: 10_000,
        fsync: FsyncPolicy::Never,
        ..LogConfig::default()
    };
    {
        let (mut log, _) = Log::open(dir.path(), cfg).unwrap();
        for b in 0..100u64 {
            let batch: Vec<_> = (0..10).map(|i| r(format!("b{b} r{i} ........."))).collect();
            assert_eq!(log.append(&batch).unwrap(), b * 10);
        }
        assert!(log.segment_count() > 3);
    }
    let (log, rec) = Log::open(dir.path(), cfg).unwrap();
    assert_eq!(log.next_offset(), 1000);
    assert_eq!(rec.total.bytes_truncated, 0);
    assert_eq!(rec.segments, log.segment_count());
    // Reads at every segment start and end.
    for o in [0u64, 1, 399, 400, 999] {
        let f = log.read(o, 100).unwrap();
        assert_eq!(f.first_offset, o);
        assert!(!f.is_empty());
    }
    assert!(log.read(1000, 100).unwrap().is_empty());
    assert!(matches!(
        log.read(1001, 100),
        Err(LogError::OffsetOutOfRange {
            requested: 1001,
            next: 1000
        })
    ));
}

/// Offsets of the records in `regions`, read back from the files, in
/// the order a consumer receives them.
fn offsets_in(regions: &[FileRegion]) -> Vec<u64> {
    use std::os::unix::fs::FileExt;
    let mut out = Vec::new();
    for r in regions {
        let mut raw = vec![0; r.len() as usize];
        r.file().read_exact_at(&mut raw, r.offset()).unwrap();
        let mut at = 0;
        while at < raw.len() {
            let h =
                super::super::record::RecordHeader::decode(raw[at..at + 16].try_into().unwrap());
            out.push(h.offset);
            at += h.total_len() as usize;
        }
        assert_eq!(at, raw.len(), "regions hold whole records");
    }
    out
}

#[test]
fn a_fetch_near_a_segment_end_goes_on_into_the_next_segments_within_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    // 10-byte payloads: 26-byte records, three to a 100-byte segment.
    let cfg = LogConfig {
        segment_bytes: 100,
        fsync: FsyncPolicy::Never,
        ..LogConfig::default()
    };
    let (mut log, _) = Log::open(dir.path(), cfg).unwrap();
    for i in 0..9 {
        log.append(&[r(format!("record {i:03}"))]).unwrap();
    }
    assert_eq!(log.segment_count(), 3);

    let f = log.read(2, 1000).unwrap();
    assert_eq!(f.regions.len(), 3, "one region per segment");
    assert_eq!(offsets_in(&f.regions), (2..9).collect::<Vec<_>>());
    assert_eq!(f.len(), 7 * 26);

    // The budget runs out one record into the second segment.
    let f = log.read(2, 60).unwrap();
    assert_eq!(offsets_in(&f.regions), [2, 3]);
    assert_eq!(f.regions.len(), 2);

    // Only the first region may overshoot the budget.
    let f = log.read(2, 10).unwrap();
    assert_eq!(offsets_in(&f.regions), [2]);
    let f = log.read(2, 30).unwrap();
    assert_eq!(offsets_in(&f.regions), [2], "the next record does not fit");

    // From inside a segment to its end, then on.
    let f = log.read(4, 1000).unwrap();
    assert_eq!(offsets_in(&f.regions), (4..9).collect::<Vec<_>>());
    assert_eq!(f.regions.len(), 2);
}

#[test]
fn a_fetch_reads_from_at_most_max_segments_per_fetch_segments() {
    let dir = tempfile::tempdir().unwrap();
    // Each record rolls a new segment.
    let cfg = LogConfig {
        segment_bytes: 20,
        fsync: FsyncPolicy::Never,
        ..LogConfig::default()
    };
    let (mut log, _) = Log::open(dir.path(), cfg).unwrap();
    let n = MAX_SEGMENTS_PER_FETCH as u64 + 4;
    for i in 0..n {
        log.append(&[r(format!("r{i:03}"))]).unwrap();
    }
    assert_eq!(log.segment_count() as u64, n);
    let f = log.read(0, 1 << 20).unwrap();
    assert_eq!(f.regions.len(), MAX_SEGMENTS_PER_FETCH);
    assert_eq!(
        offsets_in(&f.regions),
        (0..MAX_SEGMENTS_PER_FETCH as u64).collect::<Vec<_>>()
    );
}

#[test]
fn retention_by_age_deletes_old_sealed_segments_but_never_the_active_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_bytes: 100,
        fsync: FsyncPolicy::Never,
        retain_age: Some(Duration::from_secs(3600)),
        ..LogConfig::default()
    };
    let (mut log, _) = Log::open(dir.path(), cfg).unwrap();
    for i in 0..9 {
        log.append(&[r(format!("record {i:03}"))]).unwrap();
    }
    assert_eq!(log.segment_count(), 3);
    // Nothing is an hour old yet.
    let now = SystemTime::now();
    assert_eq!(log.enforce_retention(now).unwrap(), Retired::default());
    // A region cut before the deletion stays whole.
    let before = log.read(0, 1000).unwrap();
    // Two hours on, every sealed segment is too old; the active stays.
    let later = now + Duration::from_secs(7200);
    let retired = log.enforce_retention(later).unwrap();
    assert_eq!(
        retired,
        Retired {
            segments: 2,
            bytes: 6 * 26
        }
    );
    assert_eq!((log.segment_count(), log.start_offset()), (1, 6));
    assert!(!segment_paths(dir.path(), 0).0.exists());
    assert!(!segment_paths(dir.path(), 3).1.exists());
    assert!(matches!(
        log.read(5, 1000),
        Err(LogError::OffsetDeleted {
            requested: 5,
            start: 6
        })
    ));
    assert_eq!(offsets_in(&log.read(6, 1000).unwrap().regions), [6, 7, 8]);
    assert_eq!(offsets_in(&before.regions), (0..9).collect::<Vec<_>>());
    // The log reopens from its new start and goes on.
    drop(log);
    let (mut log, rec) = Log::open(dir.path(), cfg).unwrap();
    assert_eq!((rec.segments, log.start_offset()), (1, 6));
    assert_eq!(log.append(&[r("after".into())]).unwrap(), 9);
}

#[test]
fn retention_by_size_keeps_at_least_the_configured_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_bytes: 100,
        fsync: FsyncPolicy::Never,
        retain_bytes: Some(150),
        ..LogConfig::default()
    };
    let (mut log, _) = Log::open(dir.path(), cfg).unwrap();
    for i in 0..30 {
        log.append(&[r(format!("record {i:03}"))]).unwrap();
        let total: u64 = log.segments.iter().map(Segment::size).sum();
        let oldest = log.segments[0].size();
        // After each append: either one segment, or dropping the oldest
        // would leave less than 150 bytes (+ what arrived since the roll).
        assert!(
            log.segment_count() == 1 || total - oldest < 150 + 3 * 26,
            "record {i}: {total} bytes, oldest {oldest}"
        );
    }
    // 30 records of 26 bytes, three to a segment: 10 segments made.
    assert_eq!(log.next_offset(), 30);
    let start = log.start_offset();
    assert!(start > 0 && start % 3 == 0, "start {start}");
    let kept: u64 = log.segments.iter().map(Segment::size).sum();
    assert!(kept >= 150, "kept {kept}");
    assert_eq!(
        log.read(0, 100).unwrap_err().to_string(),
        format!("offset 0 is out of range: retention deleted the records before offset {start}")
    );
    // The files on disk are exactly the segments left.
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".log"))
        .collect();
    files.sort();
    assert_eq!(files.len(), log.segment_count());
    assert_eq!(files[0], format!("{start:020}.log"));
}

#[test]
fn a_segment_cut_short_drops_the_segments_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_bytes: 1000,
        fsync: FsyncPolicy::Never,
        ..LogConfig::default()
    };
    {
        let (mut log, _) = Log::open(dir.path(), cfg).unwrap();
        for i in 0..100 {
            log.append(&[r(format!("record {i:04} ..................."))])
                .unwrap();
        }
    }
    // Cut the first segment mid-record.
    let (first, _) = segment_paths(dir.path(), 0);
    let len = std::fs::metadata(&first).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&first)
        .unwrap();
    f.set_len(len - 5).unwrap();
    let (mut log, rec) = Log::open(dir.path(), cfg).unwrap();
    assert_eq!(log.segment_count(), 1);
    assert!(rec.segments_removed > 0);
    let next = log.next_offset();
    assert_eq!(log.append(&[r("after".into())]).unwrap(), next);
}

#[test]
fn oversized_records_and_bad_configs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
    let big = CompositeBuf::from(vec![0u8; MAX_RECORD_LEN as usize + 1]);
    assert!(matches!(
        log.append(&[big]),
        Err(LogError::RecordTooLarge(_))
    ));
    assert_eq!(log.next_offset(), 0);
    let bad = LogConfig {
        segment_bytes: 0,
        fsync: FsyncPolicy::Never,
        ..LogConfig::default()
    };
    assert!(matches!(
        Log::open(dir.path(), bad),
        Err(LogError::BadConfig(_))
    ));
}
