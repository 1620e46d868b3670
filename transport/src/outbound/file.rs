//! The file half of a flush: one system call (or one copy round) for the
//! [`FileRegion`] at the front, by the path chosen for it.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use weft_buf::mapped::{LeasePolicy, MappedFile};
use weft_buf::{BufError, FileRegion};

use crate::stats::{Counter, Stats};
use crate::sys::{self, FdKind, MAX_RW_COUNT};

/// Bytes read (or mapped) per round by the copying paths.
pub(crate) const COPY_CHUNK: usize = 64 * 1024;

/// Pipe buffer asked for by [`FilePath::Splice`].
pub(crate) const SPLICE_PIPE_SIZE: usize = 1024 * 1024;

/// How a [`FileRegion`] is put on the wire. The benches compare them; the
/// default is [`FilePath::Sendfile`].
///
/// | path | calls per round | user-space copies |
/// | --- | --- | --- |
/// | `Sendfile` | sendfile | 0 |
/// | `Splice` | splice ×2 (file → pipe → socket) | 0 |
/// | `MmapWrite` | mmap, write | 1 (counted) |
/// | `ReadWrite` | pread, write | 1 (counted) |
///
/// Where the kernel refuses `sendfile` (`EINVAL`, `ENOSYS`), the buffer
/// falls back to `ReadWrite` for the rest of the connection, counted.
///
/// `MmapWrite` maps the file through [`weft_buf::MappedFile`], under a
/// read lease: if another process truncates the file (or opens it for
/// writing) mid-send, the mapping is snapshotted before the truncation
/// proceeds, so the process never takes `SIGBUS`, and the write then fails
/// with an `UnexpectedEof` error that says the file changed. Where a lease
/// cannot be taken (the file is open for writing somewhere, this process
/// included, or is not owned by this user) that region goes by `ReadWrite`
/// instead, which is safe against truncation and counted the same way.
///
/// # Examples
///
/// ```
/// use weft_transport::{FilePath, OutboundBuffer};
/// let f = tempfile::tempfile().unwrap();
/// let region = weft_buf::FileRegion::from_file(f).unwrap();
/// let mut out: OutboundBuffer = OutboundBuffer::new(Default::default());
/// out.push_with_path(region.into(), FilePath::ReadWrite, None);
/// assert_eq!(out.pending_bytes(), 0);
/// assert_eq!(FilePath::default(), FilePath::Sendfile);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FilePath {
    /// `sendfile`: the bytes never enter user space.
    #[default]
    Sendfile,
    /// `mmap` the file and `write` from the mapping.
    MmapWrite,
    /// `pread` into a buffer and `write` it: the traditional path.
    ReadWrite,
    /// `splice` the file into a pipe, then the pipe into the socket.
    Splice,
}

/// Carry-over state of the copying and splicing paths for the entry at the
/// front: bytes already read (or spliced into the pipe) but not yet
/// written. They always start at the front region's offset.
#[derive(Default)]
pub(crate) struct FileState {
    carry: Vec<u8>,
    carry_pos: usize,
    carry_len: usize,
    pipe: Option<(OwnedFd, OwnedFd)>,
    pipe_pending: usize,
    sendfile_refused: bool,
    mapping: Option<Mapping>,
}

/// The leased mapping [`FilePath::MmapWrite`] sends from, kept while the
/// region at the front is of the same file.
struct Mapping {
    file: Arc<File>,
    /// `None` when the lease was refused: this file goes by read + write.
    map: Option<MappedFile>,
}

fn lease_broken(region: &FileRegion) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!(
            "file region changed during mmap + write: another process truncated the file or opened it for writing (its read lease was broken); {} bytes from offset {} were not sent",
            region.len(),
            region.offset()
        ),
    )
}

pub(super) fn truncated(region: &FileRegion) -> io::Error {
    let file_len = region
        .file()
        .metadata()
        .map(|m| m.len().to_string())
        .unwrap_or_else(|_| "unknown".into());
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!(
            "file region truncated: the file is {file_len} bytes, the region needs bytes {}..{}",
            region.offset(),
            region.offset().saturating_add(region.len())
        ),
    )
}

fn refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP)
    )
}

impl FileState {
    /// Heap memory held between regions: the copy buffer.
    pub(crate) fn held_capacity(&self) -> usize {
        self.carry.capacity()
    }

    /// Drops the copy buffer and the mapping once no region is queued (the
    /// caller checks); a splice pipe stays (it holds no user memory, and
    /// reopening it would cost three calls a region).
    pub(crate) fn release_idle(&mut self) {
        if self.carry_pos == self.carry_len {
            self.carry = Vec::new();
            self.carry_pos = 0;
            self.carry_len = 0;
        }
        self.mapping = None;
    }

    pub(crate) fn reset(&mut self) {
        self.carry_pos = 0;
        self.carry_len = 0;
        self.mapping = None;
        // Bytes left in the pipe belong to a write that failed: drop it.
        if self.pipe_pending > 0 {
            self.pipe = None;
            self.pipe_pending = 0;
        }
    }

    /// One round for `region` (the front entry), moving at most
    /// `max_chunk` bytes; returns the bytes the kernel took from it.
    pub(crate) fn step(
        &mut self,
        fd: BorrowedFd<'_>,
        sink: FdKind,
        region: &FileRegion,
        path: FilePath,
        max_chunk: usize,
        stats: &Stats,
    ) -> io::Result<usize> {
        match path {
            FilePath::Sendfile if !self.sendfile_refused => {
                match self.sendfile(fd, region, max_chunk, stats) {
                    Err(e) if refused(&e) => {
                        tracing::debug!(error = %e, ?sink, "sendfile refused; falling back to read + write");
                        self.sendfile_refused = true;
                        self.read_write(fd, region, stats)
                    }
                    r => r,
                }
            }
            FilePath::Sendfile | FilePath::ReadWrite => self.read_write(fd, region, stats),
            FilePath::MmapWrite => self.mmap_write(fd, region, max_chunk, stats),
            FilePath::Splice => self.splice(fd, region, max_chunk, stats),
        }
    }

    fn sendfile(
        &mut self,
        fd: BorrowedFd<'_>,
        region: &FileRegion,
        max_chunk: usize,
        stats: &Stats,
    ) -> io::Result<usize> {
        let count = region.len().min(max_chunk.min(MAX_RW_COUNT) as u64) as usize;
        let mut off = region.offset();
        stats.add(Counter::SendfileCalls, 1);
        let n = sys::sendfile(fd, region.file().as_fd(), &mut off, count)?;
        if n == 0 {
            return Err(truncated(region));
        }
        stats.add(Counter::SendfileBytes, n as u64);
        if n < count {
            stats.add(Counter::PartialWrites, 1);
        }
        Ok(n)
    }

    fn read_write(
        &mut self,
        fd: BorrowedFd<'_>,
        region: &FileRegion,
        stats: &Stats,
    ) -> io::Result<usize> {
        if self.carry_pos == self.carry_len {
            let want = region.len().min(COPY_CHUNK as u64) as usize;
            if self.carry.len() < want {
                self.carry.resize(want, 0);
            }
            let buf = self.carry.get_mut(..want).unwrap_or_default();
            stats.add(Counter::ReadCalls, 1);
            let n = sys::pread(region.file().as_fd(), buf, region.offset())?;
            if n == 0 {
                return Err(truncated(region));
            }
            stats.record_copy(n);
            self.carry_pos = 0;
            self.carry_len = n;
        }
        let pending = self
            .carry
            .get(self.carry_pos..self.carry_len)
            .unwrap_or_default();
        stats.add(Counter::WriteCalls, 1);
        let w = sys::write(fd, pending)?;
        if w < pending.len() {
            stats.add(Counter::PartialWrites, 1);
        }
        stats.add(Counter::CopyBytes, w as u64);
        self.carry_pos += w;
        Ok(w)
    }

    fn mmap_write(
        &mut self,
        fd: BorrowedFd<'_>,
        region: &FileRegion,
        max_chunk: usize,
        stats: &Stats,
    ) -> io::Result<usize> {
        if !matches!(&self.mapping, Some(m) if Arc::ptr_eq(&m.file, region.file())) {
            self.mapping = None;
            let map = lease_and_map(region.file(), stats)?;
            self.mapping = Some(Mapping {
                file: Arc::clone(region.file()),
                map,
            });
        }
        let Some(Mapping { map: Some(map), .. }) = &self.mapping else {
            return self.read_write(fd, region, stats);
        };
        if map.was_revoked() {
            self.mapping = None;
            return Err(lease_broken(region));
        }
        let bytes = map.bytes();
        let start = usize::try_from(region.offset()).unwrap_or(usize::MAX);
        let len = region.len().min(max_chunk.min(MAX_RW_COUNT) as u64) as usize;
        let Some(slice) = start.checked_add(len).and_then(|end| bytes.get(start..end)) else {
            self.mapping = None;
            return Err(truncated(region));
        };
        stats.add(Counter::WriteCalls, 1);
        let w = sys::write(fd, slice)?;
        // The write copies the mapped pages into the socket buffer.
        stats.record_copy(w);
        stats.add(Counter::CopyBytes, w as u64);
        if w < len {
            stats.add(Counter::PartialWrites, 1);
        }
        if w as u64 == region.len() {
            // The region is done: give up the lease and the mapping.
            self.mapping = None;
        }
        Ok(w)
    }

    fn splice(
        &mut self,
        fd: BorrowedFd<'_>,
        region: &FileRegion,
        max_chunk: usize,
        stats: &Stats,
    ) -> io::Result<usize> {
        let (r, w) = match &self.pipe {
            Some(p) => p,
            None => {
                let (r, w) = sys::pipe()?;
                // A bigger pipe means fewer rounds; the default is fine too.
                let _ = sys::set_pipe_size(w.as_fd(), SPLICE_PIPE_SIZE);
                self.pipe.insert((r, w))
            }
        };
        if self.pipe_pending == 0 {
            let want = region.len().min(max_chunk.min(MAX_RW_COUNT) as u64) as usize;
            let mut off = region.offset();
            stats.add(Counter::SpliceCalls, 1);
            let n = sys::splice(region.file().as_fd(), Some(&mut off), w.as_fd(), want)?;
            if n == 0 {
                return Err(truncated(region));
            }
            self.pipe_pending = n;
        }
        stats.add(Counter::SpliceCalls, 1);
        let n = sys::splice(r.as_fd(), None, fd, self.pipe_pending)?;
        if n < self.pipe_pending {
            stats.add(Counter::PartialWrites, 1);
        }
        stats.add(Counter::SpliceBytes, n as u64);
        self.pipe_pending -= n;
        Ok(n)
    }
}

/// Opens `file` again read-only (through `/proc/self/fd`, which also works
/// for an unlinked file) and maps it under a read lease. `Ok(None)` when
/// the lease is refused.
fn lease_and_map(file: &File, stats: &Stats) -> io::Result<Option<MappedFile>> {
    let path = format!("/proc/self/fd/{}", file.as_raw_fd());
    stats.add(Counter::MmapCalls, 1);
    match MappedFile::open(&path, LeasePolicy::Refuse) {
        // Leased, or empty (then the region, not empty, is past its end: the
        // bounds check reports a truncation).
        Ok(m) => Ok(Some(m)),
        Err(BufError::Unprotected { source }) => {
            tracing::debug!(error = %source, "no read lease for mmap + write; sending by read + write");
            Ok(None)
        }
        Err(BufError::Io(e)) => Err(e),
        Err(e) => Err(io::Error::other(e)),
    }
}
