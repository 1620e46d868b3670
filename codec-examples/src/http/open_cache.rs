//! Open files shared between requests, as nginx's `open_file_cache` keeps
//! them: a descriptor, its length, content type and validators per
//! normalized target, reopened by name at most every `valid` seconds.
//!
//! Why: resolving and opening a file costs `openat2` + `statx` + `close`
//! per request, and those are blocking calls that must run off the event
//! loop (`spawn_blocking`, a hop to another thread and back). A hit costs a
//! lock and a hash lookup on the loop and no system call.
//!
//! # Staleness window
//!
//! An entry is used for at most [`OpenFileCache::valid`] (default
//! [`DEFAULT_OPEN_FILE_CACHE_VALID`], 1 s) after the open that made it;
//! then the next request for it opens the name again off the loop and
//! replaces it. Within that window:
//! - a file **replaced** (renamed over) or **deleted** is still served as
//!   it was: the cached descriptor keeps the old inode alive, so what is
//!   sent is consistent with its `Content-Length` and `ETag`;
//! - a file **modified in place** is read through the cached descriptor,
//!   so the bytes are current but `Content-Length`, `ETag` and
//!   `Last-Modified` are those of the open (nginx behaves the same way). A
//!   file that shrank under a region is reported by the transport on the
//!   write (the connection is closed), never sent padded.
//!
//! Only regular files are cached; 404, 403 and directory redirects go
//! through the open every time (nginx's `open_file_cache_errors off`).
//! Regions from a cached descriptor are `pread`/`sendfile` at explicit
//! offsets, so sharing one descriptor between connections is safe: no
//! file position is used.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

use bytes::Bytes;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::mime::content_type;
use super::resolve::{FileRoot, Opened, Opening, Target};
use super::validators::Validators;
use super::Status;

/// Entries the open-file cache (`weft http --open-file-cache`) holds by
/// default (nginx's examples use `open_file_cache max=1000`); each holds one
/// descriptor.
pub const DEFAULT_OPEN_FILE_CACHE_ENTRIES: usize = 1000;

/// How long an entry is used before its name is opened again (nginx's
/// `open_file_cache_valid` defaults to 60 s; 1 s here keeps the staleness
/// window short at the cost of one reopen per file per second).
pub const DEFAULT_OPEN_FILE_CACHE_VALID: Duration = Duration::from_secs(1);

/// `weft http --memory-body-max` by default: cached files up to 8 KiB are
/// read into memory once per open and sent with their head in one
/// `sendmsg`. Measured on a 4 KiB file, one server thread, wrk -t1 -c64,
/// three alternating 5 s runs each: 2.9 system calls per request instead
/// of 3.5; server CPU per request 9.3 µs against 9.6 µs on a quiet machine
/// (load average 1.6-1.9: within the noise) and 6.4-7.1 µs against
/// 7.3-8.6 µs on a loaded one (load average 5-6). A small gain, kept
/// because it is never worse; past a few pages `sendfile`'s saved copy
/// outweighs the saved call, so larger files keep it. [`FileRoot`]'s own
/// default is 0 (every body by `sendfile`).
pub const DEFAULT_MEMORY_BODY_MAX: u64 = 8 * 1024;

/// A regular file opened for answers: what a response needs of it.
#[derive(Debug)]
pub(crate) struct OpenFile {
    /// The descriptor regions are cut from (shared: no file position used).
    pub(crate) file: Arc<File>,
    /// The length from `fstat` at the open.
    pub(crate) len: u64,
    /// `Content-Type`, from the name's extension.
    pub(crate) content_type: &'static str,
    /// `ETag` and `Last-Modified`, from the same `fstat`.
    pub(crate) validators: Arc<Validators>,
    /// The whole file, for one no longer than the root's
    /// `memory_body_max` while the open-file cache is on: read once here
    /// (a copy, counted by `weft_buf::record_copy`), then sent from memory
    /// with the head in one `sendmsg` by every answer from the cache.
    pub(crate) contents: Option<Bytes>,
}

impl OpenFile {
    /// What an answer needs of a file just opened (blocking: may read a
    /// small file whole).
    pub(crate) fn new(opened: Opened, root: &FileRoot) -> OpenFile {
        let len = opened.meta.len();
        let contents = (root.cache.enabled() && len <= root.memory_body_max)
            .then(|| read_whole(&opened.file, len))
            .flatten();
        OpenFile {
            validators: root.validators.get(&opened.meta),
            len,
            content_type: content_type(&opened.path),
            file: Arc::new(opened.file),
            contents,
        }
    }
}

/// Reads `len` bytes from the start of `file`; `None` if it ends sooner
/// (it changed since its `fstat`: the region path then reports it).
fn read_whole(file: &File, len: u64) -> Option<Bytes> {
    let mut buf = vec![0u8; usize::try_from(len).ok()?];
    file.read_exact_at(&mut buf, 0).ok()?;
    weft_buf::record_copy(buf.len());
    Some(Bytes::from(buf))
}

/// What a target names, once opened.
#[derive(Debug)]
pub(crate) enum Named {
    /// A regular file (for a directory with its slash: its `index.html`).
    File(Arc<OpenFile>),
    /// A directory named without its trailing slash (a 301 to it).
    Directory,
}

/// Opens `target` under `root`: blocking system calls, for the blocking
/// pool (or a test's thread).
pub(crate) fn open_named(root: &FileRoot, target: &Target) -> Result<Named, Status> {
    Ok(match target.open(root)? {
        Opening::File(o) => Named::File(Arc::new(OpenFile::new(o, root))),
        Opening::Directory => Named::Directory,
    })
}

/// One cached open and when it was made.
#[derive(Debug)]
struct Entry {
    file: Arc<OpenFile>,
    opened_at: Instant,
}

/// Open regular files by normalized target, bounded in entries, each used
/// for at most `valid` after its open (see the module docs for what that
/// window allows). Shared by every connection (and thread) of a root.
///
/// Cost: a hit is one uncontended lock and one hash lookup of the path.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let dir = tempfile::tempdir().unwrap();
/// let mut root = weft_examples::http::FileRoot::open(dir.path()).unwrap();
/// root.open_file_cache(100, Duration::from_secs(1)); // 0 entries: no cache
/// ```
#[derive(Debug)]
pub(crate) struct OpenFileCache {
    max: usize,
    valid: Duration,
    entries: Mutex<HashMap<Box<[u8]>, Entry>>,
}

impl Default for OpenFileCache {
    fn default() -> OpenFileCache {
        OpenFileCache::new(
            DEFAULT_OPEN_FILE_CACHE_ENTRIES,
            DEFAULT_OPEN_FILE_CACHE_VALID,
        )
    }
}

impl OpenFileCache {
    /// A cache of at most `max` entries (0: nothing is cached), each used
    /// for `valid` after its open (zero: nothing is cached).
    pub(crate) fn new(max: usize, valid: Duration) -> OpenFileCache {
        OpenFileCache {
            max,
            valid,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Whether anything is cached at all.
    pub(crate) fn enabled(&self) -> bool {
        self.max > 0 && !self.valid.is_zero()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<[u8]>, Entry>> {
        // A panic while holding the lock leaves a consistent map (every
        // change is one insert or remove): keep using it.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The file cached for `key` if it was opened less than `valid` before
    /// `now`; `None` means: open it (off the loop) and [`insert`](Self::insert).
    pub(crate) fn get(&self, key: &[u8], now: Instant) -> Option<Arc<OpenFile>> {
        if !self.enabled() {
            return None;
        }
        let entries = self.lock();
        let e = entries.get(key)?;
        (now.saturating_duration_since(e.opened_at) < self.valid).then(|| e.file.clone())
    }

    /// Caches `file`, opened at `opened_at`, for `key`, replacing what was
    /// there. When full, expired entries go first, then an arbitrary one
    /// (the map's iteration order): the bound is on descriptors held, and
    /// a file evicted early is only reopened.
    pub(crate) fn insert(&self, key: &[u8], file: Arc<OpenFile>, opened_at: Instant) {
        if !self.enabled() {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.max && !entries.contains_key(key) {
            let valid = self.valid;
            entries.retain(|_, e| opened_at.saturating_duration_since(e.opened_at) < valid);
            if entries.len() >= self.max {
                if let Some(k) = entries.keys().next().cloned() {
                    entries.remove(&k);
                }
            }
        }
        entries.insert(key.into(), Entry { file, opened_at });
    }

    /// Drops the entries opened `valid` or more before `now`, closing their
    /// descriptors (unless a response still sends from one), as nginx's
    /// `open_file_cache inactive=` does: a file nobody asks for is not
    /// held open. `weft http` runs this every `valid` off the event loop.
    pub(crate) fn sweep(&self, now: Instant) {
        let expired: Vec<Entry> = {
            let mut entries = self.lock();
            let keys: Vec<Box<[u8]>> = entries
                .iter()
                .filter(|(_, e)| now.saturating_duration_since(e.opened_at) >= self.valid)
                .map(|(k, _)| k.clone())
                .collect();
            keys.iter().filter_map(|k| entries.remove(k)).collect()
        };
        // Closed here, outside the lock.
        drop(expired);
    }

    /// Forgets every entry: the next request for each file opens it again.
    /// For a file found shorter than its cached length while it was being
    /// sent (truncated in place within the window).
    pub(crate) fn clear(&self) {
        let all = std::mem::take(&mut *self.lock());
        drop(all);
    }

    /// The staleness window (zero when nothing is cached).
    pub(crate) fn valid(&self) -> Duration {
        if self.enabled() {
            self.valid
        } else {
            Duration::ZERO
        }
    }

    /// Entries held (each one descriptor).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(len: u64) -> Arc<OpenFile> {
        let dir = tempfile::tempdir().unwrap();
        let f = tempfile::tempfile_in(dir.path()).unwrap();
        Arc::new(OpenFile {
            file: Arc::new(f),
            len,
            content_type: "text/plain",
            validators: Arc::new(Validators {
                etag: String::new(),
                last_modified: String::new(),
                mtime_secs: 0,
            }),
            contents: None,
        })
    }

    #[test]
    fn an_entry_is_used_within_its_window_and_not_after() {
        let c = OpenFileCache::new(10, Duration::from_secs(1));
        let t = Instant::now();
        c.insert(b"a", file(1), t);
        assert!(c.get(b"a", t + Duration::from_millis(999)).is_some());
        assert!(c.get(b"a", t + Duration::from_secs(1)).is_none());
        assert!(c.get(b"b", t).is_none());
    }

    #[test]
    fn a_full_cache_evicts_expired_entries_first_and_stays_bounded() {
        let c = OpenFileCache::new(3, Duration::from_secs(1));
        let t = Instant::now();
        c.insert(b"old", file(1), t);
        let later = t + Duration::from_secs(2);
        c.insert(b"a", file(1), later);
        c.insert(b"b", file(1), later);
        c.insert(b"c", file(1), later);
        assert_eq!(c.len(), 3);
        assert!(c.get(b"a", later).is_some());
        assert!(c.get(b"c", later).is_some());
        for k in [&b"d"[..], b"e", b"f", b"g"] {
            c.insert(k, file(1), later);
            assert_eq!(c.len(), 3);
            assert!(c.get(k, later).is_some(), "the newest entry stays");
        }
    }

    #[test]
    fn a_sweep_drops_expired_entries_and_clear_drops_all() {
        let c = OpenFileCache::new(10, Duration::from_secs(1));
        let t = Instant::now();
        c.insert(b"old", file(1), t);
        c.insert(b"new", file(1), t + Duration::from_millis(500));
        c.sweep(t + Duration::from_secs(1));
        assert_eq!(c.len(), 1);
        assert!(c.get(b"new", t + Duration::from_secs(1)).is_some());
        c.clear();
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn zero_entries_or_a_zero_window_caches_nothing() {
        let t = Instant::now();
        for c in [
            OpenFileCache::new(0, Duration::from_secs(1)),
            OpenFileCache::new(10, Duration::ZERO),
        ] {
            c.insert(b"a", file(1), t);
            assert!(c.get(b"a", t).is_none());
            assert_eq!(c.len(), 0);
        }
    }
}
