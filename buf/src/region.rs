//! [`FileRegion`]: a range of a file, sent as a message without reading it.
//!
//! # Examples
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("f");
//! std::fs::write(&path, b"0123456789").unwrap();
//! let tail = weft_buf::region::FileRegion::open(&path).unwrap().slice(5..);
//! assert_eq!((tail.offset(), tail.len()), (5, 5));
//! ```

use std::fmt;
use std::fs::File;
use std::ops::{Bound, RangeBounds};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;

use crate::BufError;

/// A range of an open file: a shared handle, an offset and a length.
///
/// A `FileRegion` travels through a pipeline like any other message, and the
/// transport sends it with `sendfile`, so its bytes never enter user space.
/// Cloning is cheap (one reference count on the file handle).
///
/// The region is checked against the file's length when it is made. A file
/// may still shrink later (another process truncates it); the transport
/// reports that as an error on the write, it does not hang.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use weft_buf::FileRegion;
///
/// let mut f = tempfile::tempfile().unwrap();
/// f.write_all(b"0123456789").unwrap();
/// let region = FileRegion::from_file(f).unwrap();
/// assert_eq!(region.len(), 10);
/// let mid = region.slice(2..5);
/// assert_eq!((mid.offset(), mid.len()), (2, 3));
/// ```
#[derive(Clone)]
pub struct FileRegion {
    file: Arc<File>,
    offset: u64,
    len: u64,
}

impl FileRegion {
    /// Opens `path` read-only and makes a region of the whole file.
    ///
    /// # Errors
    ///
    /// [`BufError::Io`] if the file cannot be opened or its length read.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("f");
    /// std::fs::write(&path, b"abc").unwrap();
    /// let region = weft_buf::FileRegion::open(&path).unwrap();
    /// assert_eq!(region.len(), 3);
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<FileRegion, BufError> {
        FileRegion::from_file(File::open(path)?)
    }

    /// Makes a region of the whole of an open file.
    ///
    /// # Errors
    ///
    /// [`BufError::Io`] if the file's length cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = tempfile::tempfile().unwrap();
    /// assert!(weft_buf::FileRegion::from_file(f).unwrap().is_empty());
    /// ```
    pub fn from_file(file: File) -> Result<FileRegion, BufError> {
        let len = file.metadata()?.len();
        Ok(FileRegion {
            file: Arc::new(file),
            offset: 0,
            len,
        })
    }

    /// Makes a region of `len` bytes from `offset` of a shared file.
    ///
    /// # Errors
    ///
    /// [`BufError::OutOfRange`] if the region reaches past the end of the
    /// file as it is now; [`BufError::Io`] if its length cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let f = tempfile::tempfile().unwrap();
    /// f.set_len(100).unwrap();
    /// let f = Arc::new(f);
    /// assert!(weft_buf::FileRegion::new(f.clone(), 90, 10).is_ok());
    /// let err = weft_buf::FileRegion::new(f, 90, 11).unwrap_err();
    /// assert_eq!(err.to_string(), "range 90..101 is out of bounds for length 100");
    /// ```
    pub fn new(file: Arc<File>, offset: u64, len: u64) -> Result<FileRegion, BufError> {
        let file_len = file.metadata()?.len();
        FileRegion::with_file_len(file, offset, len, file_len)
    }

    /// Makes a region of `len` bytes from `offset` of a shared file whose
    /// length the caller has just read (from its own `fstat`), so no
    /// second `fstat` is made. The range is checked against `file_len`
    /// exactly as [`new`](Self::new) checks it against the file; a file
    /// that shrinks later is reported by the transport on the write.
    ///
    /// # Errors
    ///
    /// [`BufError::OutOfRange`] if the region reaches past `file_len`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let f = tempfile::tempfile().unwrap();
    /// f.set_len(100).unwrap();
    /// let file_len = f.metadata().unwrap().len();
    /// let f = Arc::new(f);
    /// let r = weft_buf::FileRegion::with_file_len(f.clone(), 90, 10, file_len).unwrap();
    /// assert_eq!((r.offset(), r.len()), (90, 10));
    /// let err = weft_buf::FileRegion::with_file_len(f, 90, 11, file_len).unwrap_err();
    /// assert_eq!(err.to_string(), "range 90..101 is out of bounds for length 100");
    /// ```
    pub fn with_file_len(
        file: Arc<File>,
        offset: u64,
        len: u64,
        file_len: u64,
    ) -> Result<FileRegion, BufError> {
        let end = offset.checked_add(len);
        match end {
            Some(end) if end <= file_len => Ok(FileRegion { file, offset, len }),
            _ => Err(BufError::OutOfRange {
                start: offset,
                end: end.unwrap_or(u64::MAX),
                len: file_len,
            }),
        }
    }

    /// The shared file handle.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = weft_buf::FileRegion::from_file(tempfile::tempfile().unwrap()).unwrap();
    /// assert!(r.file().metadata().is_ok());
    /// ```
    pub fn file(&self) -> &Arc<File> {
        &self.file
    }

    /// Offset of the first byte of the region in the file.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = weft_buf::FileRegion::from_file(tempfile::tempfile().unwrap()).unwrap();
    /// assert_eq!(r.offset(), 0);
    /// ```
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Length of the region in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = tempfile::tempfile().unwrap();
    /// f.set_len(4).unwrap();
    /// assert_eq!(weft_buf::FileRegion::from_file(f).unwrap().len(), 4);
    /// ```
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Returns `true` if the region is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = weft_buf::FileRegion::from_file(tempfile::tempfile().unwrap()).unwrap();
    /// assert!(r.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A sub-region; `range` is relative to this region. O(1).
    ///
    /// # Panics
    ///
    /// Panics if `range` does not lie inside `0..self.len()`; see
    /// [`try_slice`](Self::try_slice).
    ///
    /// # Examples
    ///
    /// ```
    /// let f = tempfile::tempfile().unwrap();
    /// f.set_len(10).unwrap();
    /// let r = weft_buf::FileRegion::from_file(f).unwrap().slice(4..);
    /// assert_eq!((r.offset(), r.len()), (4, 6));
    /// ```
    pub fn slice(&self, range: impl RangeBounds<u64>) -> FileRegion {
        match self.try_slice(range) {
            Ok(r) => r,
            Err(e) => crate::error::panic_with("FileRegion::slice", e),
        }
    }

    /// Like [`slice`](Self::slice), but returns an error instead of panicking.
    ///
    /// # Errors
    ///
    /// [`BufError::OutOfRange`] if the range does not lie inside the region.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = tempfile::tempfile().unwrap();
    /// f.set_len(10).unwrap();
    /// let r = weft_buf::FileRegion::from_file(f).unwrap();
    /// assert!(r.try_slice(5..11).is_err());
    /// ```
    pub fn try_slice(&self, range: impl RangeBounds<u64>) -> Result<FileRegion, BufError> {
        let start = match range.start_bound() {
            Bound::Included(&s) => Some(s),
            Bound::Excluded(&s) => s.checked_add(1),
            Bound::Unbounded => Some(0),
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e.checked_add(1),
            Bound::Excluded(&e) => Some(e),
            Bound::Unbounded => Some(self.len),
        };
        match (start, end) {
            (Some(s), Some(e)) if s <= e && e <= self.len => Ok(FileRegion {
                file: self.file.clone(),
                offset: self.offset + s,
                len: e - s,
            }),
            (s, e) => Err(BufError::OutOfRange {
                start: s.unwrap_or(u64::MAX),
                end: e.unwrap_or(u64::MAX),
                len: self.len,
            }),
        }
    }

    /// Drops the first `n` bytes of the region, as a partial send does.
    ///
    /// # Panics
    ///
    /// Panics if `n > self.len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = tempfile::tempfile().unwrap();
    /// f.set_len(10).unwrap();
    /// let mut r = weft_buf::FileRegion::from_file(f).unwrap();
    /// r.advance(3);
    /// assert_eq!((r.offset(), r.len()), (3, 7));
    /// ```
    pub fn advance(&mut self, n: u64) {
        assert!(n <= self.len, "FileRegion::advance: {n} > {}", self.len);
        self.offset += n;
        self.len -= n;
    }
}

impl fmt::Debug for FileRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileRegion")
            .field("fd", &self.file.as_raw_fd())
            .field("offset", &self.offset)
            .field("len", &self.len)
            .finish()
    }
}
