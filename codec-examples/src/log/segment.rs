//! One segment: a `.log` file of records and its `.index`, named by the
//! offset of their first record (`00000000000000000042.log`).

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::{BufMut, BytesMut};
use weft_buf::{CompositeBuf, FileRegion};

use super::index::{OffsetIndex, INDEX_INTERVAL_BYTES};
use super::record::{RecordHeader, WindowReader, MAX_RECORD_LEN, RECORD_HEADER_LEN};

/// What recovery found in one segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Index entries that pointed at the record they claim.
    pub index_entries_kept: usize,
    /// Index entries dropped because they did not.
    pub index_entries_dropped: usize,
    /// Bytes of log read and CRC-checked (from the last good entry on).
    pub bytes_scanned: u64,
    /// Bytes cut off the tail: a torn or corrupt record and what follows.
    pub bytes_truncated: u64,
}

/// The most iovecs handed to one `writev` (Linux' `IOV_MAX`).
const MAX_IOVECS: usize = 1024;

/// One segment of the log.
#[derive(Debug)]
pub struct Segment {
    base: u64,
    file: Arc<File>,
    path: PathBuf,
    index: OffsetIndex,
    /// Bytes of whole, checked records.
    size: u64,
    next_offset: u64,
    last_indexed_pos: u64,
}

/// The file names of the segment starting at `base`.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// let (log, index) = weft_examples::log::segment::segment_paths(Path::new("d"), 42);
/// assert_eq!(log, Path::new("d/00000000000000000042.log"));
/// assert_eq!(index, Path::new("d/00000000000000000042.index"));
/// ```
pub fn segment_paths(dir: &Path, base: u64) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{base:020}.log")),
        dir.join(format!("{base:020}.index")),
    )
}

impl Segment {
    /// Opens (or creates) the segment starting at `base`, checks its index
    /// against the log, rebuilds what does not match, CRC-checks the records
    /// after the last good index entry and cuts a torn tail off.
    ///
    /// `index_capacity` is the number of index entries preallocated.
    ///
    /// # Errors
    ///
    /// I/O errors opening, reading, truncating or mapping the files.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let (seg, rec) = weft_examples::log::segment::Segment::open(dir.path(), 0, 64).unwrap();
    /// assert_eq!((seg.next_offset(), seg.size()), (0, 0));
    /// assert_eq!(rec.bytes_truncated, 0);
    /// ```
    pub fn open(dir: &Path, base: u64, index_capacity: usize) -> io::Result<(Segment, Recovery)> {
        let (log_path, index_path) = segment_paths(dir, base);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&log_path)?;
        let file_len = file.metadata()?.len();
        let mut index = OffsetIndex::open(&index_path, index_capacity)?;
        let mut rec = Recovery::default();
        let mut reader = WindowReader::new(&file, file_len);

        // Keep the index entries whose record is where they say, from the end.
        let mut keep = index.len();
        while let Some((rel, pos)) = keep.checked_sub(1).and_then(|i| index.entry(i)) {
            let h = reader.header(u64::from(pos))?;
            if h.is_some_and(|h| h.offset == base + u64::from(rel)) {
                break;
            }
            keep -= 1;
        }
        rec.index_entries_dropped = index.len() - keep;
        rec.index_entries_kept = keep;
        index.truncate(keep);

        // Check every record after the last good entry.
        let (rel, pos) = index.last();
        let mut pos = u64::from(pos);
        let mut offset = base + u64::from(rel);
        let mut last_indexed_pos = pos;
        let scan_from = pos;
        while let Some(h) = reader.header(pos)? {
            let end = pos + h.total_len();
            if h.offset != offset || h.len > MAX_RECORD_LEN || end > file_len {
                break;
            }
            if !reader.verify(pos, &h)? {
                break;
            }
            if pos >= last_indexed_pos + INDEX_INTERVAL_BYTES
                && index.push((offset - base) as u32, pos as u32)
            {
                last_indexed_pos = pos;
            }
            pos = end;
            offset += 1;
        }
        rec.bytes_scanned = pos - scan_from;
        if pos < file_len {
            rec.bytes_truncated = file_len - pos;
            file.set_len(pos)?;
            file.sync_data()?;
        }
        Ok((
            Segment {
                base,
                file: Arc::new(file),
                path: log_path,
                index,
                size: pos,
                next_offset: offset,
                last_indexed_pos,
            },
            rec,
        ))
    }

    /// Offset of the first record.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let (seg, _) = weft_examples::log::segment::Segment::open(dir.path(), 7, 8).unwrap();
    /// assert_eq!(seg.base(), 7);
    /// ```
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Offset the next appended record gets.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let (seg, _) = weft_examples::log::segment::Segment::open(dir.path(), 7, 8).unwrap();
    /// assert_eq!(seg.next_offset(), 7);
    /// ```
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// Bytes of whole records in the file.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let (seg, _) = weft_examples::log::segment::Segment::open(dir.path(), 0, 8).unwrap();
    /// assert_eq!(seg.size(), 0);
    /// ```
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The `.log` file's path.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let (seg, _) = weft_examples::log::segment::Segment::open(dir.path(), 0, 8).unwrap();
    /// assert!(seg.path().ends_with("00000000000000000000.log"));
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of stored index entries.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let (seg, _) = weft_examples::log::segment::Segment::open(dir.path(), 0, 8).unwrap();
    /// assert_eq!(seg.index_len(), 0);
    /// ```
    pub fn index_len(&self) -> usize {
        self.index.len()
    }

    /// Appends `records` with one gathering write (headers built here, the
    /// payloads written from the request's own buffers), and returns the
    /// offset of the first. On a failed write the file is cut back, so no
    /// partial record stays.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if a record is over [`MAX_RECORD_LEN`] or the segment
    /// would pass 4 GiB; the write's I/O error (`ENOSPC`, ...) otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_buf::CompositeBuf;
    /// let dir = tempfile::tempdir().unwrap();
    /// let (mut seg, _) = weft_examples::log::segment::Segment::open(dir.path(), 0, 8).unwrap();
    /// let first = seg.append(&[CompositeBuf::from(&b"a"[..]), CompositeBuf::from(&b"bc"[..])]).unwrap();
    /// assert_eq!((first, seg.next_offset(), seg.size()), (0, 2, 35));
    /// ```
    pub fn append(&mut self, records: &[CompositeBuf]) -> io::Result<u64> {
        let first = self.next_offset;
        let mut total: u64 = 0;
        let mut headers = BytesMut::with_capacity(records.len() * RECORD_HEADER_LEN);
        for (i, r) in records.iter().enumerate() {
            let len = u32::try_from(r.len())
                .ok()
                .filter(|&l| l <= MAX_RECORD_LEN)
                .ok_or_else(|| invalid("record larger than the 16 MiB limit"))?;
            let h = RecordHeader::from_pieces(
                first + i as u64,
                len,
                r.segments().iter().map(|s| &s[..]),
            );
            headers.put_slice(&h.encode());
            total += h.total_len();
        }
        if self.size + total > u64::from(u32::MAX) {
            return Err(invalid("segment would pass 4 GiB"));
        }
        let headers = headers.freeze();
        let mut pieces: Vec<&[u8]> = Vec::with_capacity(records.len() * 2);
        for (i, r) in records.iter().enumerate() {
            pieces.push(&headers[i * RECORD_HEADER_LEN..(i + 1) * RECORD_HEADER_LEN]);
            pieces.extend(
                r.segments()
                    .iter()
                    .map(|s| &s[..])
                    .filter(|s| !s.is_empty()),
            );
        }
        if let Err(e) = write_all_vectored(&self.file, &pieces) {
            // Cut back whatever part of the batch reached the file.
            let _ = self.file.set_len(self.size);
            return Err(e);
        }
        let mut pos = self.size;
        for (i, r) in records.iter().enumerate() {
            if pos >= self.last_indexed_pos + INDEX_INTERVAL_BYTES
                && self
                    .index
                    .push((first + i as u64 - self.base) as u32, pos as u32)
            {
                self.last_indexed_pos = pos;
            }
            pos += RECORD_HEADER_LEN as u64 + r.len() as u64;
        }
        self.size = pos;
        self.next_offset += records.len() as u64;
        Ok(first)
    }

    /// Byte position of the record with `offset`, which must lie in this
    /// segment (`base <= offset < next_offset`). Looks the floor entry up in
    /// the index, then walks headers from there (at most about
    /// [`INDEX_INTERVAL_BYTES`] of them).
    fn position_of(&self, reader: &mut WindowReader<'_>, offset: u64) -> io::Result<u64> {
        let (rel, pos) = self.index.lookup((offset - self.base) as u32);
        let mut at = u64::from(pos);
        let mut o = self.base + u64::from(rel);
        while o < offset {
            let h = reader
                .header(at)?
                .ok_or_else(|| corrupt("record header past the end of the segment"))?;
            at += h.total_len();
            o += 1;
        }
        Ok(at)
    }

    /// The whole records from `offset` on, at most `max_bytes` of them but
    /// always at least one, as a region of the file to send with sendfile.
    /// `None` when `offset` is this segment's next offset (nothing yet).
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `offset` is outside the segment; I/O errors reading
    /// headers.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_buf::CompositeBuf;
    /// let dir = tempfile::tempdir().unwrap();
    /// let (mut seg, _) = weft_examples::log::segment::Segment::open(dir.path(), 0, 8).unwrap();
    /// seg.append(&[CompositeBuf::from(&b"aaaa"[..]), CompositeBuf::from(&b"bb"[..])]).unwrap();
    /// let r = seg.read(0, 1).unwrap().unwrap();
    /// assert_eq!((r.offset(), r.len()), (0, 20)); // one record even if over max_bytes
    /// let r = seg.read(1, 1000).unwrap().unwrap();
    /// assert_eq!((r.offset(), r.len()), (20, 18));
    /// assert!(seg.read(2, 1000).unwrap().is_none());
    /// ```
    pub fn read(&self, offset: u64, max_bytes: u64) -> io::Result<Option<FileRegion>> {
        self.read_region(offset, max_bytes, true)
    }

    /// Like [`read`](Self::read), but only records that fit in
    /// `max_bytes`: `None` also when the first one alone is over it. This
    /// is how a fetch continues into the next segment with what is left
    /// of its budget (only the first region of a fetch may overshoot).
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_buf::CompositeBuf;
    /// let dir = tempfile::tempdir().unwrap();
    /// let (mut seg, _) = weft_examples::log::segment::Segment::open(dir.path(), 0, 8).unwrap();
    /// seg.append(&[CompositeBuf::from(&b"aaaa"[..]), CompositeBuf::from(&b"bb"[..])]).unwrap();
    /// assert!(seg.read_within(0, 19).unwrap().is_none()); // the first record is 20 bytes
    /// assert_eq!(seg.read_within(0, 37).unwrap().unwrap().len(), 20);
    /// ```
    pub fn read_within(&self, offset: u64, max_bytes: u64) -> io::Result<Option<FileRegion>> {
        self.read_region(offset, max_bytes, false)
    }

    fn read_region(
        &self,
        offset: u64,
        max_bytes: u64,
        at_least_one: bool,
    ) -> io::Result<Option<FileRegion>> {
        if offset < self.base || offset > self.next_offset {
            return Err(invalid("offset outside the segment"));
        }
        if offset == self.next_offset {
            return Ok(None);
        }
        let mut reader = WindowReader::new(&self.file, self.size);
        let start = self.position_of(&mut reader, offset)?;
        let limit = start.saturating_add(max_bytes);
        let end = if limit >= self.size {
            self.size
        } else {
            // Start from the index entry nearest below the limit.
            let (_, near) = self.index.lookup_position(limit as u32);
            let mut at = u64::from(near).max(start);
            loop {
                let h = reader
                    .header(at)?
                    .ok_or_else(|| corrupt("record header past the end of the segment"))?;
                let next = at + h.total_len();
                if next > limit {
                    if at == start {
                        if !at_least_one {
                            return Ok(None);
                        }
                        at = next; // the first record alone is over the limit
                    }
                    break;
                }
                at = next;
            }
            at
        };
        FileRegion::new(self.file.clone(), start, end - start)
            .map(Some)
            .map_err(io::Error::from)
    }

    /// When records were last appended: the `.log` file's modification
    /// time, which survives a restart (retention by age reads it).
    ///
    /// # Errors
    ///
    /// The I/O error of `fstat`.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let (seg, _) = weft_examples::log::segment::Segment::open(dir.path(), 0, 8).unwrap();
    /// assert!(seg.modified().unwrap() <= std::time::SystemTime::now());
    /// ```
    pub fn modified(&self) -> io::Result<SystemTime> {
        self.file.metadata()?.modified()
    }

    /// Deletes the segment's files, the index first: a crash in between
    /// leaves a `.log` that recovery re-indexes (and retention deletes
    /// again), never an index without its log. Regions already cut from
    /// the segment stay whole: each holds the file open, so a fetch
    /// answered just before the deletion still sends the records it found.
    ///
    /// # Errors
    ///
    /// The I/O error of either unlink (a missing index is not one).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let (seg, _) = weft_examples::log::segment::Segment::open(dir.path(), 0, 8).unwrap();
    /// let path = seg.path().to_path_buf();
    /// seg.delete().unwrap();
    /// assert!(!path.exists());
    /// ```
    pub fn delete(self) -> io::Result<()> {
        match std::fs::remove_file(self.path.with_extension("index")) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::remove_file(&self.path)
    }

    /// Flushes data (`fdatasync`) and the index pages (`msync`).
    ///
    /// # Errors
    ///
    /// The I/O error of either call.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let (seg, _) = weft_examples::log::segment::Segment::open(dir.path(), 0, 8).unwrap();
    /// seg.sync().unwrap();
    /// ```
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()?;
        self.index.flush()
    }

    /// The `.log` file, for a sync that must not hold the log's lock.
    pub(crate) fn file(&self) -> &Arc<File> {
        &self.file
    }

    /// Flushes only the data (`fdatasync`): what the fsync policy promises.
    /// The index is rebuilt by recovery, so it need not be durable.
    pub(crate) fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn corrupt(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// `writev` until every piece is written, at most [`MAX_IOVECS`] a call,
/// resuming exactly where a partial write stopped.
fn write_all_vectored(mut file: &File, pieces: &[&[u8]]) -> io::Result<()> {
    let mut idx = 0;
    let mut skip = 0; // bytes of pieces[idx] already written
    while idx < pieces.len() {
        let end = (idx + MAX_IOVECS).min(pieces.len());
        let mut iov: Vec<IoSlice<'_>> = Vec::with_capacity(end - idx);
        iov.push(IoSlice::new(&pieces[idx][skip..]));
        iov.extend(pieces[idx + 1..end].iter().map(|p| IoSlice::new(p)));
        let mut n = match file.write_vectored(&iov) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        while n > 0 && idx < pieces.len() {
            let left = pieces[idx].len() - skip;
            if n >= left {
                n -= left;
                idx += 1;
                skip = 0;
            } else {
                skip += n;
                n = 0;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn rec(i: usize) -> CompositeBuf {
        CompositeBuf::from(Bytes::from(format!(
            "record number {i} {}",
            "x".repeat(i % 97)
        )))
    }

    fn fill(seg: &mut Segment, n: usize) {
        let recs: Vec<CompositeBuf> = (0..n).map(rec).collect();
        for chunk in recs.chunks(7) {
            seg.append(chunk).unwrap();
        }
    }

    fn read_all(seg: &Segment, from: u64, max: u64) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        let mut offset = from;
        while let Some(region) = seg.read(offset, max).unwrap() {
            let mut raw = vec![0u8; region.len() as usize];
            std::os::unix::fs::FileExt::read_exact_at(&**region.file(), &mut raw, region.offset())
                .unwrap();
            let mut p = &raw[..];
            while !p.is_empty() {
                let mut h = [0u8; RECORD_HEADER_LEN];
                h.copy_from_slice(&p[..RECORD_HEADER_LEN]);
                let h = RecordHeader::decode(&h);
                let body = &p[RECORD_HEADER_LEN..RECORD_HEADER_LEN + h.len as usize];
                assert!(h.matches(&[body]));
                out.push((h.offset, body.to_vec()));
                offset = h.offset + 1;
                p = &p[h.total_len() as usize..];
            }
        }
        out
    }

    #[test]
    fn every_offset_reads_back_its_record_through_the_sparse_index() {
        let dir = tempfile::tempdir().unwrap();
        let (mut seg, _) = Segment::open(dir.path(), 100, 64).unwrap();
        fill(&mut seg, 800);
        assert!(seg.index_len() > 10, "index entries: {}", seg.index_len());
        for start in [100u64, 101, 350, 899] {
            for max in [1u64, 100, 5000, 1 << 20] {
                let got = read_all(&seg, start, max);
                assert_eq!(got.len() as u64, 900 - start);
                for (o, body) in got {
                    assert_eq!(body, rec((o - 100) as usize).to_bytes().to_vec());
                }
            }
        }
    }

    #[test]
    fn reads_stop_at_a_record_boundary_within_max_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (mut seg, _) = Segment::open(dir.path(), 0, 64).unwrap();
        fill(&mut seg, 500);
        for max in [30u64, 1000, 4096, 9000] {
            let r = seg.read(3, max).unwrap().unwrap();
            assert!(r.len() <= max.max(rec(3).len() as u64 + 16));
        }
    }

    #[test]
    fn reopening_keeps_the_index_and_scans_only_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let entries;
        let size;
        {
            let (mut seg, _) = Segment::open(dir.path(), 0, 64).unwrap();
            fill(&mut seg, 800);
            entries = seg.index_len();
            size = seg.size();
        }
        let (seg, rec) = Segment::open(dir.path(), 0, 64).unwrap();
        assert_eq!(rec.index_entries_kept, entries);
        assert_eq!(rec.index_entries_dropped, 0);
        assert_eq!(rec.bytes_truncated, 0);
        assert!(rec.bytes_scanned < 2 * INDEX_INTERVAL_BYTES);
        assert_eq!((seg.size(), seg.next_offset()), (size, 800));
    }

    #[test]
    fn a_tail_cut_mid_record_is_truncated_and_stale_index_entries_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (log_path, _) = segment_paths(dir.path(), 0);
        let (entries, size) = {
            let (mut seg, _) = Segment::open(dir.path(), 0, 64).unwrap();
            fill(&mut seg, 800);
            (seg.index_len(), seg.size())
        };
        // Cut 3 KiB off, which lands inside some record.
        let f = OpenOptions::new().write(true).open(&log_path).unwrap();
        f.set_len(size - 3000).unwrap();
        let (mut seg, found) = Segment::open(dir.path(), 0, 64).unwrap();
        assert!(found.bytes_truncated > 0 && found.bytes_truncated < 200);
        assert!(found.index_entries_kept <= entries);
        assert!(seg.next_offset() < 800);
        let n = seg.next_offset();
        assert_eq!(read_all(&seg, 0, 1 << 20).len() as u64, n);
        // Appending after recovery continues the offsets.
        assert_eq!(seg.append(&[rec(1)]).unwrap(), n);
        assert_eq!(read_all(&seg, n, 100).len(), 1);
    }

    #[test]
    fn a_flipped_byte_in_the_last_record_cuts_it_off() {
        let dir = tempfile::tempdir().unwrap();
        let (log_path, _) = segment_paths(dir.path(), 0);
        {
            let (mut seg, _) = Segment::open(dir.path(), 0, 64).unwrap();
            fill(&mut seg, 10);
        }
        let mut raw = std::fs::read(&log_path).unwrap();
        let last = raw.len() - 2;
        raw[last] ^= 0xff;
        std::fs::write(&log_path, &raw).unwrap();
        let (seg, rec) = Segment::open(dir.path(), 0, 64).unwrap();
        assert_eq!(seg.next_offset(), 9);
        assert_eq!(rec.bytes_truncated, 16 + rec_len(9));
    }

    fn rec_len(i: usize) -> u64 {
        rec(i).len() as u64
    }

    #[test]
    fn a_garbage_index_is_dropped_and_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let (_, index_path) = segment_paths(dir.path(), 0);
        let entries = {
            let (mut seg, _) = Segment::open(dir.path(), 0, 64).unwrap();
            fill(&mut seg, 800);
            seg.index_len()
        };
        // Every entry points one byte off.
        let mut raw = std::fs::read(&index_path).unwrap();
        for e in raw.chunks_exact_mut(8).take(entries) {
            let pos = u32::from_be_bytes([e[4], e[5], e[6], e[7]]) + 1;
            e[4..].copy_from_slice(&pos.to_be_bytes());
        }
        std::fs::write(&index_path, &raw).unwrap();
        let (seg, rec) = Segment::open(dir.path(), 0, 64).unwrap();
        assert_eq!(rec.index_entries_dropped, entries);
        assert_eq!(rec.bytes_truncated, 0);
        assert_eq!(seg.index_len(), entries);
        assert_eq!(seg.next_offset(), 800);
        assert_eq!(read_all(&seg, 650, 4096).len(), 150);
    }
}
