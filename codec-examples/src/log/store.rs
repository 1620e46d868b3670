//! The log: an ordered list of segments, the active one last.

use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use weft_buf::{CompositeBuf, FileRegion};

use super::index::{INDEX_ENTRY_LEN, INDEX_INTERVAL_BYTES};
use super::record::MAX_RECORD_LEN;
use super::segment::{segment_paths, Recovery, Segment};

/// Default size at which a segment rolls (Kafka's is 1 GiB; smaller here so
/// a laptop sees rolls).
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Largest segment size accepted: positions in the index are 32-bit.
pub const MAX_SEGMENT_BYTES: u64 = 1 << 30;

/// When produced records are forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FsyncPolicy {
    /// `fdatasync` before every acknowledgement: an acknowledged record
    /// survives a power cut.
    Always,
    /// `fdatasync` at this period in the background: an acknowledged record
    /// survives a crash of the broker, and a power cut loses at most one
    /// period.
    Interval(Duration),
    /// Never: the kernel writes back when it likes (survives a broker crash,
    /// not a power cut).
    Never,
}

/// How a log is opened.
#[derive(Debug, Clone, Copy)]
pub struct LogConfig {
    /// Size at which the active segment rolls.
    pub segment_bytes: u64,
    /// The fsync policy.
    pub fsync: FsyncPolicy,
    /// Retention by size: sealed segments are deleted, oldest first, while
    /// the log without them would still hold at least this many bytes
    /// (Kafka's `retention.bytes`). `None` keeps everything.
    pub retain_bytes: Option<u64>,
    /// Retention by age: a sealed segment whose last append is older than
    /// this is deleted (Kafka's `retention.ms`; the age is the `.log`
    /// file's modification time). `None` keeps everything.
    pub retain_age: Option<Duration>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
            retain_bytes: None,
            retain_age: None,
        }
    }
}

/// Errors of the log, each answered to the client as a clear error reply.
#[derive(Debug)]
#[non_exhaustive]
pub enum LogError {
    /// A fetch asked for an offset past the end of the log.
    OffsetOutOfRange {
        /// The offset asked for.
        requested: u64,
        /// The offset the next record will get.
        next: u64,
    },
    /// A fetch asked for an offset whose segment retention has deleted.
    OffsetDeleted {
        /// The offset asked for.
        requested: u64,
        /// The oldest offset the log still holds.
        start: u64,
    },
    /// A record over [`MAX_RECORD_LEN`].
    RecordTooLarge(usize),
    /// A setting outside what the log supports.
    BadConfig(String),
    /// The disk refused (`ENOSPC` and friends).
    Io(io::Error),
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::OffsetOutOfRange { requested, next } => write!(
                f,
                "offset {requested} is beyond the end of the log (next offset is {next})"
            ),
            LogError::OffsetDeleted { requested, start } => write!(
                f,
                "offset {requested} is out of range: retention deleted the records before offset {start}"
            ),
            LogError::RecordTooLarge(n) => {
                write!(
                    f,
                    "record of {n} bytes is over the {MAX_RECORD_LEN}-byte limit"
                )
            }
            LogError::BadConfig(msg) => write!(f, "bad log configuration: {msg}"),
            LogError::Io(e) => write!(f, "storage error: {e}"),
        }
    }
}

impl std::error::Error for LogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LogError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for LogError {
    fn from(e: io::Error) -> Self {
        LogError::Io(e)
    }
}

/// Most segments one fetch reads from: a fetch that starts near the end
/// of a segment goes on into the next ones while its byte budget lasts,
/// but with tiny segments a big budget would otherwise gather thousands of
/// regions into one answer.
pub const MAX_SEGMENTS_PER_FETCH: usize = 16;

/// What a fetch found: records from `first_offset` as regions of
/// consecutive segment files, one region per segment, in offset order
/// (none when the fetch is at the end of the log).
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Offset of the first record of the first region.
    pub first_offset: u64,
    /// Whole records, as they lie on disk; each region ends where the next
    /// one's first record follows in the log.
    pub regions: Vec<FileRegion>,
    /// The offset the next produced record will get.
    pub log_end: u64,
}

impl Fetched {
    /// Bytes of records in all regions together.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::log::store::{Log, LogConfig};
    /// let dir = tempfile::tempdir().unwrap();
    /// let (log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
    /// assert_eq!(log.read(0, 100).unwrap().len(), 0);
    /// ```
    pub fn len(&self) -> u64 {
        self.regions.iter().map(FileRegion::len).sum()
    }

    /// Whether the fetch found no records.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::log::store::{Log, LogConfig};
    /// let dir = tempfile::tempdir().unwrap();
    /// let (log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
    /// assert!(log.read(0, 100).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }
}

/// What one retention pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retired {
    /// Whole segments deleted.
    pub segments: usize,
    /// Bytes of records they held.
    pub bytes: u64,
}

/// What [`Log::open`] found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogRecovery {
    /// Segments opened.
    pub segments: usize,
    /// Per-segment findings, summed.
    pub total: Recovery,
    /// Segments removed because an earlier one ended short of their base
    /// (their records would leave a gap in the offsets).
    pub segments_removed: usize,
}

/// An append-only log of records in segment files.
///
/// # Examples
///
/// ```
/// use weft_buf::CompositeBuf;
/// use weft_examples::log::store::{Log, LogConfig};
///
/// let dir = tempfile::tempdir().unwrap();
/// let (mut log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
/// assert_eq!(log.append(&[CompositeBuf::from(&b"hello"[..])]).unwrap(), 0);
/// let fetched = log.read(0, 1024).unwrap();
/// assert_eq!(fetched.len(), 16 + 5);
/// assert!(log.read(2, 1024).is_err());
/// ```
#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    config: LogConfig,
    /// Sorted by base offset; never empty.
    segments: Vec<Segment>,
    /// Appended since the last sync.
    dirty: bool,
}

impl Log {
    /// Opens the log in `dir` (creating it), recovering every segment.
    ///
    /// # Errors
    ///
    /// [`LogError::BadConfig`] for a segment size of 0 or over
    /// [`MAX_SEGMENT_BYTES`]; [`LogError::Io`] for file errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::log::store::{Log, LogConfig};
    /// let dir = tempfile::tempdir().unwrap();
    /// let (log, rec) = Log::open(dir.path(), LogConfig::default()).unwrap();
    /// assert_eq!((log.next_offset(), rec.segments), (0, 1));
    /// ```
    pub fn open(dir: &Path, config: LogConfig) -> Result<(Log, LogRecovery), LogError> {
        if config.segment_bytes == 0 || config.segment_bytes > MAX_SEGMENT_BYTES {
            return Err(LogError::BadConfig(format!(
                "segment size must be 1..={MAX_SEGMENT_BYTES} bytes"
            )));
        }
        std::fs::create_dir_all(dir)?;
        let mut bases = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(stem) = name.strip_suffix(".log") {
                if stem.len() == 20 {
                    if let Ok(base) = stem.parse::<u64>() {
                        bases.push(base);
                    }
                }
            }
        }
        bases.sort_unstable();
        if bases.is_empty() {
            bases.push(0);
        }
        let cap = index_capacity(config.segment_bytes);
        let mut rec = LogRecovery::default();
        let mut segments: Vec<Segment> = Vec::new();
        for (i, &base) in bases.iter().enumerate() {
            if let Some(prev) = segments.last() {
                if prev.next_offset() != base {
                    // A gap: what follows cannot be addressed; drop it.
                    tracing::warn!(
                        "segment {} ends at offset {} but the next starts at {base}; removing {} later segment(s)",
                        prev.base(),
                        prev.next_offset(),
                        bases.len() - i
                    );
                    for &later in &bases[i..] {
                        let (log_path, index_path) = segment_paths(dir, later);
                        std::fs::remove_file(log_path)?;
                        let _ = std::fs::remove_file(index_path);
                        rec.segments_removed += 1;
                    }
                    break;
                }
            }
            let (seg, r) = Segment::open(dir, base, cap)?;
            rec.total.index_entries_kept += r.index_entries_kept;
            rec.total.index_entries_dropped += r.index_entries_dropped;
            rec.total.bytes_scanned += r.bytes_scanned;
            rec.total.bytes_truncated += r.bytes_truncated;
            segments.push(seg);
        }
        rec.segments = segments.len();
        let mut log = Log {
            dir: dir.to_path_buf(),
            config,
            segments,
            dirty: false,
        };
        // A restart with a tighter retention (or after a long stop) applies it.
        log.enforce_retention(SystemTime::now())?;
        Ok((log, rec))
    }

    /// The offset the next record gets.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::log::store::{Log, LogConfig};
    /// let dir = tempfile::tempdir().unwrap();
    /// assert_eq!(Log::open(dir.path(), LogConfig::default()).unwrap().0.next_offset(), 0);
    /// ```
    pub fn next_offset(&self) -> u64 {
        self.segments.last().map_or(0, Segment::next_offset)
    }

    /// The oldest offset the log holds (0 until retention deletes a
    /// segment).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::log::store::{Log, LogConfig};
    /// let dir = tempfile::tempdir().unwrap();
    /// assert_eq!(Log::open(dir.path(), LogConfig::default()).unwrap().0.start_offset(), 0);
    /// ```
    pub fn start_offset(&self) -> u64 {
        self.segments.first().map_or(0, Segment::base)
    }

    /// Number of segments.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::log::store::{Log, LogConfig};
    /// let dir = tempfile::tempdir().unwrap();
    /// assert_eq!(Log::open(dir.path(), LogConfig::default()).unwrap().0.segment_count(), 1);
    /// ```
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The configuration the log was opened with.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::log::store::{Log, LogConfig};
    /// let dir = tempfile::tempdir().unwrap();
    /// let (log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
    /// assert_eq!(log.config().segment_bytes, 64 << 20);
    /// ```
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Appends a batch and returns the offset of its first record, after
    /// what the fsync policy promises (`Always`: data synced). Rolls to a new
    /// segment first if the batch would take the active one past its size.
    ///
    /// # Errors
    ///
    /// [`LogError::RecordTooLarge`]; [`LogError::Io`] if the write or sync
    /// fails (the batch is then not in the log).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_buf::CompositeBuf;
    /// use weft_examples::log::store::{FsyncPolicy, Log, LogConfig};
    /// let dir = tempfile::tempdir().unwrap();
    /// let cfg = LogConfig { segment_bytes: 40, fsync: FsyncPolicy::Always, ..LogConfig::default() };
    /// let (mut log, _) = Log::open(dir.path(), cfg).unwrap();
    /// for i in 0..3 {
    ///     assert_eq!(log.append(&[CompositeBuf::from(&b"0123456789"[..])]).unwrap(), i);
    /// }
    /// assert_eq!(log.segment_count(), 3); // 26-byte records, 40-byte segments
    /// ```
    pub fn append(&mut self, records: &[CompositeBuf]) -> Result<u64, LogError> {
        let first = self.append_unsynced(records)?;
        if self.config.fsync == FsyncPolicy::Always {
            self.sync()?;
        }
        Ok(first)
    }

    /// [`append`](Self::append) without the sync of `FsyncPolicy::Always`:
    /// the broker makes the records durable after releasing the log's lock,
    /// one sync for every producer waiting ([`super::commit`]), with
    /// [`sync_target`](Self::sync_target). Rolls still sync the sealed
    /// segment.
    pub(crate) fn append_unsynced(&mut self, records: &[CompositeBuf]) -> Result<u64, LogError> {
        if let Some(r) = records.iter().find(|r| r.len() > MAX_RECORD_LEN as usize) {
            return Err(LogError::RecordTooLarge(r.len()));
        }
        let bytes: u64 = records.iter().map(|r| 16 + r.len() as u64).sum();
        let needs_roll = self
            .segments
            .last()
            .is_some_and(|s| s.size() > 0 && s.size() + bytes > self.config.segment_bytes);
        if needs_roll {
            self.roll()?;
            // A sealed segment more: maybe one too many. The produce goes
            // on if a file cannot be deleted; the next pass tries again.
            if let Err(e) = self.enforce_retention(SystemTime::now()) {
                tracing::warn!(error = %e, "retention could not delete a segment");
            }
        }
        let Some(active) = self.segments.last_mut() else {
            return Err(LogError::BadConfig("log has no segment".into()));
        };
        let first = active.append(records)?;
        self.dirty = true;
        Ok(first)
    }

    /// What a sync outside the lock needs: the active segment's file and
    /// the offset below which its `fdatasync` makes every record durable
    /// (records of sealed segments were synced when they rolled).
    pub(crate) fn sync_target(&self) -> Option<(u64, Arc<File>)> {
        self.segments
            .last()
            .map(|s| (s.next_offset(), s.file().clone()))
    }

    fn roll(&mut self) -> Result<(), LogError> {
        let next = self.next_offset();
        if let Some(old) = self.segments.last() {
            // The sealed segment is complete: make it durable unless told
            // never to, so a power cut cannot leave a hole behind the active one.
            if self.config.fsync != FsyncPolicy::Never {
                old.sync()?;
            }
        }
        let (seg, _) = Segment::open(&self.dir, next, index_capacity(self.config.segment_bytes))?;
        self.segments.push(seg);
        Ok(())
    }

    /// Deletes whole sealed segments, oldest first, while retention by size
    /// or by age (as of `now`) says so; the active segment is never
    /// deleted. A fetch for an offset of a deleted segment is then
    /// [`LogError::OffsetDeleted`]; a fetch answered before the deletion
    /// still sends its records (its regions hold the files open).
    ///
    /// Runs after every roll, at open, and from the broker's timer.
    ///
    /// # Errors
    ///
    /// [`LogError::Io`] if a segment's age cannot be read or its files
    /// cannot be deleted (the segments before it are gone, it and the
    /// later ones stay).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_buf::CompositeBuf;
    /// use weft_examples::log::store::{FsyncPolicy, Log, LogConfig};
    /// let dir = tempfile::tempdir().unwrap();
    /// let cfg = LogConfig {
    ///     segment_bytes: 40,
    ///     fsync: FsyncPolicy::Never,
    ///     retain_bytes: Some(52),
    ///     ..LogConfig::default()
    /// };
    /// let (mut log, _) = Log::open(dir.path(), cfg).unwrap();
    /// for _ in 0..5 {
    ///     log.append(&[CompositeBuf::from(&b"0123456789"[..])]).unwrap(); // 26 bytes
    /// }
    /// // Each roll deleted the oldest segments that the log could do without
    /// // and still hold 52 bytes: records 0 and 1 are gone.
    /// assert_eq!((log.start_offset(), log.segment_count()), (2, 3));
    /// assert_eq!(
    ///     log.read(1, 100).unwrap_err().to_string(),
    ///     "offset 1 is out of range: retention deleted the records before offset 2"
    /// );
    /// ```
    pub fn enforce_retention(&mut self, now: SystemTime) -> Result<Retired, LogError> {
        let mut retired = Retired::default();
        let mut total: u64 = self.segments.iter().map(Segment::size).sum();
        while self.segments.len() > 1 {
            let oldest = &self.segments[0];
            let by_size = self
                .config
                .retain_bytes
                .is_some_and(|keep| total - oldest.size() >= keep);
            let by_age = match self.config.retain_age {
                Some(age) => now
                    .duration_since(oldest.modified()?)
                    .is_ok_and(|idle| idle > age),
                None => false,
            };
            if !(by_size || by_age) {
                break;
            }
            let seg = self.segments.remove(0);
            let (base, size) = (seg.base(), seg.size());
            seg.delete()?;
            total -= size;
            retired.segments += 1;
            retired.bytes += size;
            tracing::info!(
                base,
                bytes = size,
                by_size,
                by_age,
                "retention deleted a segment"
            );
        }
        Ok(retired)
    }

    /// Forces appended records to disk if any were appended since the last
    /// sync.
    ///
    /// # Errors
    ///
    /// The I/O error of `fdatasync`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::log::store::{Log, LogConfig};
    /// let dir = tempfile::tempdir().unwrap();
    /// let (mut log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
    /// log.sync().unwrap();
    /// ```
    pub fn sync(&mut self) -> Result<(), LogError> {
        if self.dirty {
            if let Some(active) = self.segments.last() {
                active.sync_data()?;
            }
            self.dirty = false;
        }
        Ok(())
    }

    /// Syncs the active segment's data and index (`fdatasync` + `msync`),
    /// as at a clean shutdown.
    ///
    /// # Errors
    ///
    /// The I/O error of either call.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::log::store::{Log, LogConfig};
    /// let dir = tempfile::tempdir().unwrap();
    /// let (mut log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
    /// log.sync_all().unwrap();
    /// ```
    pub fn sync_all(&mut self) -> Result<(), LogError> {
        if let Some(active) = self.segments.last() {
            active.sync()?;
        }
        self.dirty = false;
        Ok(())
    }

    /// Whole records from `offset` on, at most `max_bytes` (but at least
    /// one record). A fetch that reaches the end of a segment with budget
    /// left goes on into the next one (up to [`MAX_SEGMENTS_PER_FETCH`]
    /// segments), so a consumer near a segment's end is not answered a
    /// handful of records. A fetch at the end of the log finds nothing;
    /// past the end is an error.
    ///
    /// # Errors
    ///
    /// [`LogError::OffsetOutOfRange`] past the end;
    /// [`LogError::OffsetDeleted`] before the start (retention deleted its
    /// segment); [`LogError::Io`] if the segment cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::log::store::{Log, LogConfig};
    /// let dir = tempfile::tempdir().unwrap();
    /// let (log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
    /// assert!(log.read(0, 100).unwrap().is_empty());
    /// assert_eq!(
    ///     log.read(5, 100).unwrap_err().to_string(),
    ///     "offset 5 is beyond the end of the log (next offset is 0)"
    /// );
    /// ```
    pub fn read(&self, offset: u64, max_bytes: u64) -> Result<Fetched, LogError> {
        let start = self.start_offset();
        if offset < start {
            return Err(LogError::OffsetDeleted {
                requested: offset,
                start,
            });
        }
        let log_end = self.next_offset();
        if offset > log_end {
            return Err(LogError::OffsetOutOfRange {
                requested: offset,
                next: log_end,
            });
        }
        let i = self
            .segments
            .partition_point(|s| s.base() <= offset)
            .saturating_sub(1);
        let mut regions: Vec<FileRegion> = Vec::new();
        let mut budget = max_bytes;
        let mut at = offset;
        for seg in self.segments.iter().skip(i).take(MAX_SEGMENTS_PER_FETCH) {
            let region = if regions.is_empty() {
                seg.read(at, budget)?
            } else {
                seg.read_within(at, budget)?
            };
            let Some(region) = region else { break };
            let to_segment_end = region.offset() + region.len() == seg.size();
            budget = budget.saturating_sub(region.len());
            regions.push(region);
            if !to_segment_end || budget == 0 {
                break;
            }
            // Segments are contiguous (recovery removes any after a gap).
            at = seg.next_offset();
        }
        Ok(Fetched {
            first_offset: offset,
            regions,
            log_end,
        })
    }
}

/// Index entries preallocated per segment: one per interval of the
/// segment, plus room for the one batch that may overshoot it.
fn index_capacity(segment_bytes: u64) -> usize {
    let bytes = segment_bytes + u64::from(MAX_RECORD_LEN) + 16;
    (bytes / INDEX_INTERVAL_BYTES + 2) as usize
}

/// Bytes of an index file for a given segment size (for docs and tests).
///
/// # Examples
///
/// ```
/// assert_eq!(weft_examples::log::store::index_file_bytes(1 << 20) % 8, 0);
/// ```
pub fn index_file_bytes(segment_bytes: u64) -> u64 {
    index_capacity(segment_bytes) as u64 * INDEX_ENTRY_LEN as u64
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
