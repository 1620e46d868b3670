//! Files mapped into memory as [`Bytes`], guarded against truncation.
//!
//! Mapping a file is the `MappedByteBuffer` / RocketMQ path: the bytes are
//! read straight from the page cache, with no copy into a user buffer. Its
//! known trap is SIGBUS: if another process truncates the file, touching a
//! page past the new end kills this process. Weft guards against it as the
//! seed article advises, with a **read lease** (`fcntl(F_SETLEASE, F_RDLCK)`
//! and `F_SETSIG`):
//!
//! 1. the file is opened read-only and leased before it is mapped;
//! 2. when another process opens it for writing or truncates it, the kernel
//!    holds that process back and signals this one;
//! 3. a watcher thread copies the mapping to private memory *at the same
//!    addresses* (`mremap(MREMAP_FIXED)`), counts the copy, and only then
//!    releases the lease. Every existing [`Bytes`] view keeps its bytes, and
//!    [`MappedFile::was_revoked`] / [`revocations`] tell you it happened.
//!
//! The writer waits for the watcher (normally well under a millisecond; the
//! kernel's upper bound is `/proc/sys/fs/lease-break-time`, 45 s by default).
//! The snapshot also means a view's bytes never change under you, as `Bytes`
//! promises.
//!
//! A lease is refused when this process does not own the file (and lacks
//! `CAP_LEASE`), when the file is open for writing anywhere (this process
//! included), or when the file system has no leases. [`LeasePolicy`] decides
//! what happens then: refuse with [`BufError::Unprotected`], or read the file
//! into memory (a counted copy).
//!
//! # Examples
//!
//! ```
//! use weft_buf::mapped::{LeasePolicy, MappedFile, Protection};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("log");
//! std::fs::write(&path, b"offset 0: hello").unwrap();
//!
//! let (file, copied) =
//!     weft_buf::measure_copies(|| MappedFile::open(&path, LeasePolicy::Copy).unwrap());
//! assert_eq!(&file.bytes()[10..], b"hello");
//! if file.protection() == Protection::Leased {
//!     assert_eq!(copied, 0); // mapped, not read
//! }
//! ```

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use crate::copy::record_copy;
use crate::BufError;

mod lease;

pub use lease::LEASE_SIGNAL_OFFSET;
use lease::{LeaseFailure, Leased};

/// What to do when a file cannot be protected by a read lease.
///
/// # Examples
///
/// ```
/// use weft_buf::mapped::LeasePolicy;
/// assert_eq!(LeasePolicy::default(), LeasePolicy::Refuse);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LeasePolicy {
    /// Fail with [`BufError::Unprotected`]. The default: Weft never copies
    /// behind your back.
    #[default]
    Refuse,
    /// Read the whole file into memory instead of mapping it. The copy is
    /// counted by [`crate::measure_copies`].
    Copy,
}

/// How a [`MappedFile`]'s bytes are protected.
///
/// # Examples
///
/// ```
/// use weft_buf::mapped::{LeasePolicy, MappedFile, Protection};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("empty");
/// std::fs::write(&path, b"").unwrap();
/// let f = MappedFile::open(&path, LeasePolicy::Refuse).unwrap();
/// assert_eq!(f.protection(), Protection::Empty);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protection {
    /// Mapped, with a read lease: truncation is turned into a private
    /// snapshot before it can happen.
    Leased,
    /// The lease was refused and the file was read into memory
    /// ([`LeasePolicy::Copy`]).
    Copied,
    /// The file was empty: nothing to map.
    Empty,
}

/// Keeps a leased mapping alive for as long as any `Bytes` view of it.
struct LeasedOwner(Arc<Leased>);

impl AsRef<[u8]> for LeasedOwner {
    fn as_ref(&self) -> &[u8] {
        self.0.bytes()
    }
}

/// A file mapped into memory, readable as [`Bytes`].
///
/// The mapping lives as long as the `MappedFile` or any `Bytes` view made
/// from it, whichever is last. Views are plain `Bytes`: slice them, put them
/// in a [`CompositeBuf`](crate::CompositeBuf), send them.
///
/// # Examples
///
/// ```
/// use weft_buf::mapped::{LeasePolicy, MappedFile};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("index");
/// std::fs::write(&path, [7u8; 4096]).unwrap();
///
/// let file = MappedFile::open(&path, LeasePolicy::Copy).unwrap();
/// let page = file.bytes().slice(100..200);
/// drop(file); // the view keeps the mapping alive
/// assert!(page.iter().all(|&b| b == 7));
/// ```
pub struct MappedFile {
    bytes: Bytes,
    leased: Option<Arc<Leased>>,
    protection: Protection,
}

impl MappedFile {
    /// Opens `path` read-only, takes a read lease and maps the file. No byte
    /// is copied on this path.
    ///
    /// If the lease is refused, `policy` decides: [`LeasePolicy::Refuse`]
    /// returns an error, [`LeasePolicy::Copy`] reads the file into memory
    /// (counted). An empty file gives an empty buffer
    /// ([`Protection::Empty`]).
    ///
    /// # Errors
    ///
    /// [`BufError::Unprotected`] if the lease is refused and the policy is
    /// `Refuse`; [`BufError::Io`] if the file cannot be opened, mapped or
    /// read.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_buf::mapped::{LeasePolicy, MappedFile};
    /// use weft_buf::BufError;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("busy");
    /// let mut writer = std::fs::File::create(&path).unwrap();
    /// std::io::Write::write_all(&mut writer, b"still being written").unwrap();
    ///
    /// // Open for writing (by us): no read lease is possible.
    /// let err = MappedFile::open(&path, LeasePolicy::Refuse).unwrap_err();
    /// assert!(matches!(err, BufError::Unprotected { .. }));
    /// let copy = MappedFile::open(&path, LeasePolicy::Copy).unwrap();
    /// assert_eq!(copy.bytes(), &b"still being written"[..]);
    /// ```
    pub fn open(path: impl AsRef<Path>, policy: LeasePolicy) -> Result<MappedFile, BufError> {
        let file = File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Ok(MappedFile {
                bytes: Bytes::new(),
                leased: None,
                protection: Protection::Empty,
            });
        }
        let mut registration = lease::lock_registry();
        match registration.lease_and_map(file) {
            Ok(leased) => {
                drop(registration);
                let bytes = Bytes::from_owner(LeasedOwner(Arc::clone(&leased)));
                Ok(MappedFile {
                    bytes,
                    leased: Some(leased),
                    protection: Protection::Leased,
                })
            }
            Err(LeaseFailure::Io(e)) => Err(BufError::Io(e)),
            Err(LeaseFailure::Refused(source, mut file)) => {
                drop(registration);
                match policy {
                    LeasePolicy::Refuse => Err(BufError::Unprotected { source }),
                    LeasePolicy::Copy => {
                        let mut data = Vec::new();
                        file.read_to_end(&mut data)?;
                        record_copy(data.len());
                        Ok(MappedFile {
                            bytes: Bytes::from(data),
                            leased: None,
                            protection: Protection::Copied,
                        })
                    }
                }
            }
        }
    }

    /// A view of the whole file. O(1): a reference count, no copy.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_buf::mapped::{LeasePolicy, MappedFile};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("f");
    /// std::fs::write(&path, b"abc").unwrap();
    /// let f = MappedFile::open(&path, LeasePolicy::Copy).unwrap();
    /// assert_eq!(f.bytes().as_ptr(), f.bytes().as_ptr()); // same memory
    /// ```
    pub fn bytes(&self) -> Bytes {
        self.bytes.clone()
    }

    /// Consumes the handle and returns the view of the whole file.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_buf::mapped::{LeasePolicy, MappedFile};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("f");
    /// std::fs::write(&path, b"abc").unwrap();
    /// let b = MappedFile::open(&path, LeasePolicy::Copy).unwrap().into_bytes();
    /// assert_eq!(b, &b"abc"[..]);
    /// ```
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// Length of the file when it was mapped.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_buf::mapped::{LeasePolicy, MappedFile};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("f");
    /// std::fs::write(&path, b"abc").unwrap();
    /// assert_eq!(MappedFile::open(&path, LeasePolicy::Copy).unwrap().len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Returns `true` if the file was empty.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_buf::mapped::{LeasePolicy, MappedFile};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("f");
    /// std::fs::write(&path, b"").unwrap();
    /// assert!(MappedFile::open(&path, LeasePolicy::Refuse).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// How the bytes are protected: leased mapping, copy, or empty.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_buf::mapped::{LeasePolicy, MappedFile, Protection};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("f");
    /// std::fs::write(&path, b"abc").unwrap();
    /// let f = MappedFile::open(&path, LeasePolicy::Copy).unwrap();
    /// assert_ne!(f.protection(), Protection::Empty);
    /// ```
    pub fn protection(&self) -> Protection {
        self.protection
    }

    /// Returns `true` once another process's write or truncation broke the
    /// lease and the mapping was replaced by a private snapshot. The views
    /// still hold the bytes the file had when it was mapped; they no longer
    /// follow the file.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_buf::mapped::{LeasePolicy, MappedFile};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("f");
    /// std::fs::write(&path, b"abc").unwrap();
    /// let f = MappedFile::open(&path, LeasePolicy::Copy).unwrap();
    /// assert!(!f.was_revoked());
    /// ```
    pub fn was_revoked(&self) -> bool {
        self.leased.as_ref().is_some_and(|l| l.was_revoked())
    }
}

impl fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedFile")
            .field("len", &self.len())
            .field("protection", &self.protection)
            .field("revoked", &self.was_revoked())
            .finish()
    }
}

/// Maps `path` and returns the view of the whole file; shorthand for
/// [`MappedFile::open`] followed by [`MappedFile::into_bytes`].
///
/// # Errors
///
/// As [`MappedFile::open`].
///
/// # Examples
///
/// ```
/// use weft_buf::mapped::{map_file, LeasePolicy};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("f");
/// std::fs::write(&path, b"mapped").unwrap();
/// assert_eq!(map_file(&path, LeasePolicy::Copy).unwrap(), &b"mapped"[..]);
/// ```
pub fn map_file(path: impl AsRef<Path>, policy: LeasePolicy) -> Result<Bytes, BufError> {
    MappedFile::open(path, policy).map(MappedFile::into_bytes)
}

/// How many leased mappings in this process have been turned into private
/// snapshots because another process wrote to or truncated their file.
///
/// # Examples
///
/// ```
/// let before = weft_buf::mapped::revocations();
/// assert!(weft_buf::mapped::revocations() >= before);
/// ```
pub fn revocations() -> u64 {
    lease::revocations()
}
