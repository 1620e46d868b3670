//! The sparse offset index of one segment, kept in a memory map as Kafka and
//! RocketMQ keep theirs.
//!
//! ```text
//!  index file: entry 1        entry 2        ...   zeros (preallocated)
//!             +------+------+------+------+-----+-------------+
//!             | rel  | pos  | rel  | pos  | ... | 0 0 0 0 ... |
//!             |u32 BE|u32 BE|u32 BE|u32 BE|     |             |
//!             +------+------+------+------+-----+-------------+
//!  rel = record offset - segment base offset; pos = byte position in the .log
//! ```
//!
//! An entry is added when a record starts at least
//! [`INDEX_INTERVAL_BYTES`] after the last indexed one. The entry
//! `(0, 0)`, the first record, is implied and never stored, so every stored
//! entry is non-zero and entries strictly increase in both fields: the valid
//! entries of a file are its longest strictly increasing prefix, and the
//! preallocated zeros end it.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use memmap2::MmapMut;

/// Bytes of log between index entries (Kafka's `index.interval.bytes`).
pub const INDEX_INTERVAL_BYTES: u64 = 4096;

/// Bytes per index entry.
pub const INDEX_ENTRY_LEN: usize = 8;

/// A memory-mapped sparse offset index.
///
/// # Examples
///
/// ```
/// use weft_examples::log::index::OffsetIndex;
/// let dir = tempfile::tempdir().unwrap();
/// let mut idx = OffsetIndex::open(&dir.path().join("0.index"), 16).unwrap();
/// assert!(idx.push(10, 4096));
/// assert!(idx.push(25, 8200));
/// assert_eq!(idx.lookup(24), (10, 4096));
/// assert_eq!(idx.lookup(3), (0, 0));
/// drop(idx);
/// // reopened, the entries are found again
/// let idx = OffsetIndex::open(&dir.path().join("0.index"), 16).unwrap();
/// assert_eq!(idx.len(), 2);
/// ```
#[derive(Debug)]
pub struct OffsetIndex {
    map: MmapMut,
    /// Kept open for the life of the map.
    _file: File,
    len: usize,
    capacity: usize,
}

impl OffsetIndex {
    /// Opens or creates the index at `path` with room for at least
    /// `capacity` entries, and finds its valid entries.
    ///
    /// # Errors
    ///
    /// I/O errors creating, sizing or mapping the file.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let idx = weft_examples::log::index::OffsetIndex::open(&dir.path().join("i"), 4).unwrap();
    /// assert!(idx.is_empty());
    /// ```
    pub fn open(path: &Path, capacity: usize) -> io::Result<OffsetIndex> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let have = file.metadata()?.len() / INDEX_ENTRY_LEN as u64;
        let capacity = (capacity.max(1) as u64).max(have);
        let bytes = capacity
            .checked_mul(INDEX_ENTRY_LEN as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "index too large"))?;
        if file.metadata()?.len() != bytes {
            file.set_len(bytes)?;
        }
        // SAFETY: the file is this segment's own index, opened read-write by
        // this process only and sized above; nothing else truncates it while
        // the map lives (the log directory belongs to one broker).
        let map = unsafe { MmapMut::map_mut(&file)? };
        let mut idx = OffsetIndex {
            map,
            _file: file,
            len: 0,
            capacity: capacity as usize,
        };
        let mut prev = (0u32, 0u32);
        while idx.len < idx.capacity {
            let e = idx.raw(idx.len);
            if e.0 <= prev.0 || e.1 <= prev.1 {
                break;
            }
            prev = e;
            idx.len += 1;
        }
        Ok(idx)
    }

    fn raw(&self, i: usize) -> (u32, u32) {
        let at = i * INDEX_ENTRY_LEN;
        let e = &self.map[at..at + INDEX_ENTRY_LEN];
        (
            u32::from_be_bytes([e[0], e[1], e[2], e[3]]),
            u32::from_be_bytes([e[4], e[5], e[6], e[7]]),
        )
    }

    /// Number of stored entries (the implied `(0, 0)` not counted).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let idx = weft_examples::log::index::OffsetIndex::open(&dir.path().join("i"), 4).unwrap();
    /// assert_eq!(idx.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no entry is stored.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let idx = weft_examples::log::index::OffsetIndex::open(&dir.path().join("i"), 4).unwrap();
    /// assert!(idx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stored entry `i`, as `(relative offset, position)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut idx = weft_examples::log::index::OffsetIndex::open(&dir.path().join("i"), 4).unwrap();
    /// idx.push(1, 5000);
    /// assert_eq!(idx.entry(0), Some((1, 5000)));
    /// assert_eq!(idx.entry(1), None);
    /// ```
    pub fn entry(&self, i: usize) -> Option<(u32, u32)> {
        (i < self.len).then(|| self.raw(i))
    }

    /// The last stored entry, or the implied `(0, 0)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let idx = weft_examples::log::index::OffsetIndex::open(&dir.path().join("i"), 4).unwrap();
    /// assert_eq!(idx.last(), (0, 0));
    /// ```
    pub fn last(&self) -> (u32, u32) {
        self.len.checked_sub(1).map_or((0, 0), |i| self.raw(i))
    }

    /// Appends an entry. Returns `false` (and stores nothing) if the index is
    /// full or the entry does not strictly follow the last one; a sparse
    /// index with a missing entry is still correct, only slower to search.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut idx = weft_examples::log::index::OffsetIndex::open(&dir.path().join("i"), 1).unwrap();
    /// assert!(!idx.push(0, 0)); // implied already
    /// assert!(idx.push(3, 4100));
    /// assert!(!idx.push(9, 9000)); // full
    /// ```
    pub fn push(&mut self, rel: u32, pos: u32) -> bool {
        let last = self.last();
        if self.len >= self.capacity || rel <= last.0 || pos <= last.1 {
            return false;
        }
        let at = self.len * INDEX_ENTRY_LEN;
        self.map[at..at + 4].copy_from_slice(&rel.to_be_bytes());
        self.map[at + 4..at + 8].copy_from_slice(&pos.to_be_bytes());
        self.len += 1;
        true
    }

    /// Keeps the first `len` entries and zeroes the rest in the file, so a
    /// later open does not find them again.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut idx = weft_examples::log::index::OffsetIndex::open(&dir.path().join("i"), 4).unwrap();
    /// idx.push(1, 5000);
    /// idx.truncate(0);
    /// assert!(idx.is_empty());
    /// ```
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        let from = len * INDEX_ENTRY_LEN;
        let to = self.len * INDEX_ENTRY_LEN;
        self.map[from..to].fill(0);
        self.len = len;
    }

    /// The entry with the largest relative offset `<= rel`, or `(0, 0)`.
    /// O(log entries).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut idx = weft_examples::log::index::OffsetIndex::open(&dir.path().join("i"), 4).unwrap();
    /// idx.push(10, 4096);
    /// assert_eq!(idx.lookup(10), (10, 4096));
    /// assert_eq!(idx.lookup(9), (0, 0));
    /// ```
    pub fn lookup(&self, rel: u32) -> (u32, u32) {
        let n = self.partition(|e| e.0 <= rel);
        n.checked_sub(1).map_or((0, 0), |i| self.raw(i))
    }

    /// The entry with the largest position `<= pos`, or `(0, 0)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut idx = weft_examples::log::index::OffsetIndex::open(&dir.path().join("i"), 4).unwrap();
    /// idx.push(10, 4096);
    /// assert_eq!(idx.lookup_position(5000), (10, 4096));
    /// ```
    pub fn lookup_position(&self, pos: u32) -> (u32, u32) {
        let n = self.partition(|e| e.1 <= pos);
        n.checked_sub(1).map_or((0, 0), |i| self.raw(i))
    }

    /// Number of entries for which `pred` holds (entries are sorted, so it
    /// holds for a prefix).
    fn partition(&self, pred: impl Fn((u32, u32)) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(self.raw(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Writes the mapped pages back to the file (`msync`).
    ///
    /// # Errors
    ///
    /// The I/O error of `msync`.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let idx = weft_examples::log::index::OffsetIndex::open(&dir.path().join("i"), 4).unwrap();
    /// idx.flush().unwrap();
    /// ```
    pub fn flush(&self) -> io::Result<()> {
        self.map.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_increasing_entry_on_disk_ends_the_valid_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i");
        {
            let mut idx = OffsetIndex::open(&path, 8).unwrap();
            assert!(idx.push(1, 4096));
            assert!(idx.push(2, 8192));
            assert!(idx.push(3, 12288));
        }
        // A torn write: the third entry's position went backwards.
        let mut raw = std::fs::read(&path).unwrap();
        raw[20..24].copy_from_slice(&100u32.to_be_bytes());
        std::fs::write(&path, &raw).unwrap();
        let idx = OffsetIndex::open(&path, 8).unwrap();
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.last(), (2, 8192));
    }

    #[test]
    fn lookup_finds_the_floor_entry_by_offset_and_by_position() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = OffsetIndex::open(&dir.path().join("i"), 100).unwrap();
        for i in 1..=50u32 {
            assert!(idx.push(i * 10, i * 5000));
        }
        assert_eq!(idx.lookup(0), (0, 0));
        assert_eq!(idx.lookup(255), (250, 125_000));
        assert_eq!(idx.lookup(10_000), (500, 250_000));
        assert_eq!(idx.lookup_position(4999), (0, 0));
        assert_eq!(idx.lookup_position(5000), (10, 5000));
        assert_eq!(idx.lookup_position(9999), (10, 5000));
    }
}
