//! Mapping a request target to a file under the root, and refusing every
//! way out of it.
//!
//! The target is percent-decoded once, split on `/`, and any `..` segment is
//! refused outright (so `%2e%2e` and `%2F..` fare no better than `..`). The
//! joined path is then canonicalized, which resolves symlinks, and must still
//! start with the canonical root: a symlink that points outside is refused.
//!
//! The canonical path is then opened without following any symlink. Where
//! the kernel has `openat2` (Linux 5.6+), the open is relative to a
//! descriptor of the root with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, so a
//! directory swapped for a symlink between the check and the open cannot
//! lead outside either; elsewhere `O_NOFOLLOW` guards the last component.

use std::ffi::{CString, OsStr};
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::open_cache::OpenFileCache;
use super::validators::ValidatorCache;
use super::Status;

/// The directory `weft http` serves: its canonical path and, where the
/// kernel has `openat2`, a descriptor of it to open files beneath it without
/// a race between checking a path and opening it.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let root = weft_examples::http::FileRoot::open(dir.path()).unwrap();
/// assert!(root.path().is_absolute());
/// assert!(weft_examples::http::FileRoot::open("/no/such/dir").is_err());
/// ```
#[derive(Debug)]
pub struct FileRoot {
    path: PathBuf,
    dir: Option<OwnedFd>,
    /// Formatted validators of files served recently.
    pub(crate) validators: ValidatorCache,
    /// Open files shared by requests (see [`FileRoot::open_file_cache`]).
    pub(crate) cache: OpenFileCache,
    /// Files up to this length are kept in memory by the open-file cache
    /// (see [`FileRoot::memory_body_max`]).
    pub(crate) memory_body_max: u64,
    /// Runs at the start of every [`Target::open`], on the thread that
    /// opens: tests make an open slow with it.
    #[cfg(test)]
    pub(crate) open_hook: Option<OpenHook>,
}

/// A test's stand-in for a slow file system (see [`FileRoot::open_hook`]).
#[cfg(test)]
#[derive(Clone)]
pub(crate) struct OpenHook(pub(crate) Arc<dyn Fn(&Path) + Send + Sync>);

#[cfg(test)]
impl std::fmt::Debug for OpenHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenHook")
    }
}

#[cfg(test)]
impl std::ops::Deref for OpenHook {
    type Target = dyn Fn(&Path) + Send + Sync;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

/// `struct open_how` of `openat2(2)` (libc's is `#[non_exhaustive]`).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `openat2(dir, rel, O_RDONLY | O_NONBLOCK | O_CLOEXEC)`, refusing every
/// symlink and anything not beneath `dir`.
fn openat2_beneath(dir: &OwnedFd, rel: &Path) -> io::Result<File> {
    let rel = if rel.as_os_str().is_empty() {
        CString::new(".")
    } else {
        CString::new(rel.as_os_str().as_bytes())
    }
    .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let how = OpenHow {
        flags: (libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY) as u64,
        mode: 0,
        resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: `dir` is an open descriptor, `rel` a NUL-terminated string and
    // `how` a valid `open_how` of the size passed; all outlive the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            rel.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openat2 returned a new descriptor that nothing else owns.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
}

impl FileRoot {
    /// Canonicalizes `path`, checks it is a directory, and opens it for
    /// `openat2` if the kernel has it.
    ///
    /// # Errors
    ///
    /// Fails if `path` does not exist, cannot be read, or is not a directory.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn open(path: impl AsRef<Path>) -> io::Result<FileRoot> {
        let mut root = FileRoot::without_openat2(path)?;
        let dir = OwnedFd::from(
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY)
                .open(&root.path)?,
        );
        // Probe once: ENOSYS (old kernel) or a seccomp refusal means the
        // O_NOFOLLOW fallback.
        match openat2_beneath(&dir, Path::new("")) {
            Ok(_) => root.dir = Some(dir),
            Err(e) => tracing::info!("openat2 unavailable ({e}); using O_NOFOLLOW opens"),
        }
        Ok(root)
    }

    /// Like [`open`](Self::open), but always opens with `O_NOFOLLOW` on
    /// the canonical path instead of `openat2`.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open).
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let root = weft_examples::http::FileRoot::without_openat2(dir.path()).unwrap();
    /// assert!(!root.uses_openat2());
    /// ```
    pub fn without_openat2(path: impl AsRef<Path>) -> io::Result<FileRoot> {
        let path = path.as_ref().canonicalize()?;
        if !path.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a directory", path.display()),
            ));
        }
        Ok(FileRoot {
            path,
            dir: None,
            validators: ValidatorCache::default(),
            cache: OpenFileCache::default(),
            memory_body_max: 0,
            #[cfg(test)]
            open_hook: None,
        })
    }

    /// Sets the open-file cache: at most `entries` open files (0: none, so
    /// every request opens its file off the event loop), each used for
    /// `valid` after its open before the name is opened again; the
    /// defaults are [`DEFAULT_OPEN_FILE_CACHE_ENTRIES`](super::DEFAULT_OPEN_FILE_CACHE_ENTRIES)
    /// and [`DEFAULT_OPEN_FILE_CACHE_VALID`](super::DEFAULT_OPEN_FILE_CACHE_VALID). A file replaced, deleted or
    /// changed is served as it was for at most `valid` (the module docs of
    /// `open_cache` say exactly what).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut root = weft_examples::http::FileRoot::open(dir.path()).unwrap();
    /// root.open_file_cache(0, Duration::ZERO); // every open through the blocking pool
    /// ```
    pub fn open_file_cache(&mut self, entries: usize, valid: Duration) -> &mut Self {
        self.cache = OpenFileCache::new(entries, valid);
        self
    }

    /// Sets the length up to which a file the open-file cache holds is
    /// also read into memory at its open (once per open: a copy, counted
    /// in `weft_buf::total_copied`), so that its answers send head and
    /// body in one `sendmsg` instead of `sendmsg` + `sendfile`; 0 (the
    /// default here; `weft http` uses
    /// [`DEFAULT_MEMORY_BODY_MAX`](super::DEFAULT_MEMORY_BODY_MAX)) sends
    /// every body with `sendfile`. Without the cache nothing is read.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let mut root = weft_examples::http::FileRoot::open(dir.path()).unwrap();
    /// root.memory_body_max(16 * 1024);
    /// ```
    pub fn memory_body_max(&mut self, bytes: u64) -> &mut Self {
        self.memory_body_max = bytes;
        self
    }

    /// Starts a task on the current tokio runtime that closes the
    /// open-file cache's expired entries every validity window, so files
    /// nobody asks for are not held open; `None` without a cache.
    pub(crate) fn cache_sweeper(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        let every = self.cache.valid();
        if every.is_zero() {
            return None;
        }
        let root = Arc::downgrade(self);
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match root.upgrade() {
                    Some(root) => root.cache.sweep(std::time::Instant::now()),
                    None => return,
                }
            }
        }))
    }

    /// The canonical path of the root.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether files are opened with `openat2` beneath the root.
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let root = weft_examples::http::FileRoot::open(dir.path()).unwrap();
    /// println!("openat2: {}", root.uses_openat2());
    /// ```
    pub fn uses_openat2(&self) -> bool {
        self.dir.is_some()
    }
}

/// A file opened for an answer: the handle, its metadata (from `fstat` on
/// the handle) and its canonical path.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) file: File,
    pub(crate) meta: Metadata,
    pub(crate) path: PathBuf,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `s`; `None` if an escape is malformed.
pub(crate) fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = hex(*b.get(i + 1)?)?;
            let lo = hex(*b.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The path part of a request target in origin form (`/a/b?q`) or absolute
/// form (`http://host/a/b?q`), without query or fragment.
fn path_of(target: &str) -> Option<&str> {
    let rest = if target.starts_with('/') {
        target
    } else {
        let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
        let after = if lower.starts_with("http://") {
            &target[7..]
        } else if lower.starts_with("https://") {
            &target[8..]
        } else {
            return None;
        };
        let slash = after.find('/')?;
        &after[slash..]
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

fn io_status(e: &io::Error) -> Status {
    match e.kind() {
        io::ErrorKind::PermissionDenied => Status::Forbidden,
        // ELOOP under O_NOFOLLOW: the checked path became a symlink since
        // it was canonicalized. Refuse it rather than follow it.
        // ELOOP / EXDEV under openat2: a symlink, or a way out of the root.
        _ if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EXDEV)) => Status::Forbidden,
        _ => Status::NotFound,
    }
}

/// Canonicalizes `p` and checks it is still under `root` (canonical).
fn inside(root: &Path, p: &Path) -> Result<PathBuf, Status> {
    let canon = p.canonicalize().map_err(|e| io_status(&e))?;
    if canon.starts_with(root) {
        Ok(canon)
    } else {
        Err(Status::Forbidden)
    }
}

/// Opens a canonical path under the root. It has no symlinks, so one that
/// appeared since is refused: by `openat2` for every component, by
/// `O_NOFOLLOW` for the last one otherwise. `O_NONBLOCK`: a FIFO must not
/// block the event loop (for regular files it changes nothing).
fn open_checked(root: &FileRoot, path: PathBuf) -> Result<Opened, Status> {
    let file = match (&root.dir, path.strip_prefix(&root.path)) {
        (Some(dir), Ok(rel)) => openat2_beneath(dir, rel),
        (Some(_), Err(_)) => return Err(Status::Forbidden),
        (None, _) => OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path),
    }
    .map_err(|e| io_status(&e))?;
    let meta = file.metadata().map_err(|e| io_status(&e))?;
    Ok(Opened { file, meta, path })
}

/// The common case in one `openat2` (plus `fstat`) instead of resolving
/// every component of the path in user space: `rel` (no `..`, no `.`) is
/// opened beneath the root refusing every symlink. If that succeeds, the
/// path has no symlink, so it is its own canonical form and the slow path
/// would have opened the same file. If a symlink is in the way
/// (`ELOOP`/`EXDEV`), `None`: the slow path decides whether it stays
/// inside. Without `openat2`, `None` as well.
fn open_without_symlinks(root: &FileRoot, rel: &Path) -> Option<Result<Found, Status>> {
    let dir = root.dir.as_ref()?;
    let symlink = |e: &io::Error| matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EXDEV));
    let open = |rel: &Path| -> Option<Result<Opened, Status>> {
        let file = match openat2_beneath(dir, rel) {
            Ok(f) => f,
            Err(e) if symlink(&e) => return None,
            Err(e) => return Some(Err(io_status(&e))),
        };
        Some(match file.metadata() {
            Ok(meta) => Ok(Opened {
                file,
                meta,
                path: root.path.join(rel),
            }),
            Err(e) => Err(io_status(&e)),
        })
    };
    let opened = match open(rel)? {
        Ok(o) => o,
        Err(s) => return Some(Err(s)),
    };
    if opened.meta.is_dir() {
        return Some(match open(&rel.join("index.html"))? {
            Ok(o) if o.meta.is_file() => Ok(Found::Index(o)),
            Ok(_) | Err(Status::NotFound) => Ok(Found::Directory),
            Err(s) => Err(s),
        });
    }
    Some(if opened.meta.is_file() {
        Ok(Found::File(opened))
    } else {
        Err(Status::NotFound)
    })
}

/// Bytes written as they are in a `Location` path: RFC 3986 `pchar`
/// without `%` (every other byte is percent-encoded).
fn path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
}

/// Appends `bytes` to `out`, percent-encoding every byte `keep` refuses.
fn push_encoded(out: &mut String, bytes: &[u8], keep: impl Fn(u8) -> bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// The `Location` of a directory's redirect: its segments, normalized (no
/// empty or `.` segments, so `//evil.example/dir` cannot become a
/// protocol-relative URL), re-encoded, with `/` at the end, then the
/// target's query as sent.
fn directory_location(segments: &[&[u8]], target: &str) -> String {
    let mut loc = String::with_capacity(target.len() + 8);
    for seg in segments {
        loc.push('/');
        push_encoded(&mut loc, seg, path_byte);
    }
    loc.push('/');
    if let Some(q) = target.find('?') {
        let query = &target[q..];
        let query = &query[..query.find('#').unwrap_or(query.len())];
        // httparse let only visible ASCII into the target; encode the rest
        // all the same, so nothing but a URI can reach the header.
        push_encoded(&mut loc, query.as_bytes(), |b| b.is_ascii_graphic());
    }
    loc
}

/// A request target's path, decoded and normalized: what the file system
/// is asked for, and the key of the open-file cache. Parsing it is pure
/// computation (no system call), done on the event loop; opening it
/// ([`Target::open`]) is the blocking part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The non-empty segments joined by `/`, then `/` if the target ended
    /// with one (`docs/`, `a.txt`, or `/` for the root itself).
    key: Vec<u8>,
}

impl Target {
    /// Decodes and normalizes the path of `target`: 400 if it is malformed
    /// (a bad escape, a NUL, not origin or absolute form), 403 for any `..`
    /// segment.
    pub(crate) fn parse(target: &str) -> Result<Target, Status> {
        let path = path_of(target).ok_or(Status::BadRequest)?;
        let decoded = percent_decode(path).ok_or(Status::BadRequest)?;
        if decoded.contains(&0) {
            return Err(Status::BadRequest);
        }
        let mut key = Vec::with_capacity(decoded.len());
        for seg in decoded.split(|&b| b == b'/') {
            match seg {
                b"" | b"." => {}
                b".." => return Err(Status::Forbidden),
                seg => {
                    if !key.is_empty() {
                        key.push(b'/');
                    }
                    key.extend_from_slice(seg);
                }
            }
        }
        if decoded.last() == Some(&b'/') {
            key.push(b'/');
        }
        Ok(Target { key })
    }

    /// The normalized path, the key of the open-file cache.
    pub(crate) fn key(&self) -> &[u8] {
        &self.key
    }

    fn trailing_slash(&self) -> bool {
        self.key.last() == Some(&b'/')
    }

    /// The path relative to the root, without a trailing slash.
    fn rel(&self) -> &Path {
        let bytes = self.key.strip_suffix(b"/").unwrap_or(&self.key);
        Path::new(OsStr::from_bytes(bytes))
    }

    /// The `Location` a directory named by this target redirects to, with
    /// the query of `target` (the request target it was parsed from).
    pub(crate) fn directory_location(&self, target: &str) -> String {
        let segments: Vec<&[u8]> = self
            .key
            .split(|&b| b == b'/')
            .filter(|s| !s.is_empty())
            .collect();
        directory_location(&segments, target)
    }

    /// Opens the regular file this target names under `root` (a
    /// directory's `index.html`): blocking system calls (`openat2`,
    /// `fstat`; `readlink`s on the slow path), so off the event loop. The
    /// metadata comes from the open handle, so what is checked is what is
    /// served. A directory named without its trailing slash is
    /// [`Opening::Directory`]; a file named with one is 404, as the file
    /// system says for `file/`.
    pub(crate) fn open(&self, root: &FileRoot) -> Result<Opening, Status> {
        #[cfg(test)]
        if let Some(hook) = &root.open_hook {
            hook(self.rel());
        }
        let rel = self.rel();
        let found = match open_without_symlinks(root, rel) {
            Some(fast) => fast?,
            None => open_slow(root, rel)?,
        };
        match (found, self.trailing_slash()) {
            (Found::Index(_) | Found::Directory, false) => Ok(Opening::Directory),
            (Found::Index(o), true) => Ok(Opening::File(o)),
            (Found::Directory, true) => Err(Status::NotFound),
            (Found::File(_), true) => Err(Status::NotFound),
            (Found::File(o), false) => Ok(Opening::File(o)),
        }
    }
}

/// What [`Target::open`] found.
#[derive(Debug)]
// Made once per open, on the blocking pool, and consumed at once: boxing
// would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Opening {
    /// A regular file, opened (for a directory: its `index.html`).
    File(Opened),
    /// A directory named without its trailing slash (a 301 to it).
    Directory,
}

/// What a relative path names.
enum Found {
    /// A regular file.
    File(Opened),
    /// A directory, and its `index.html` opened.
    Index(Opened),
    /// A directory without an `index.html`.
    Directory,
}

/// [`open_without_symlinks`]'s fallback: canonicalize, check the result is
/// under the root, open without following symlinks.
fn open_slow(root: &FileRoot, rel: &Path) -> Result<Found, Status> {
    let joined = root.path.join(rel);
    let opened = open_checked(root, inside(&root.path, &joined)?)?;
    if opened.meta.is_dir() {
        let index = inside(&root.path, &opened.path.join("index.html"));
        return match index.and_then(|i| open_checked(root, i)) {
            Ok(o) if o.meta.is_file() => Ok(Found::Index(o)),
            Ok(_) | Err(Status::NotFound) => Ok(Found::Directory),
            Err(s) => Err(s),
        };
    }
    if opened.meta.is_file() {
        Ok(Found::File(opened))
    } else {
        Err(Status::NotFound)
    }
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
