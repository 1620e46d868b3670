//! Read leases and the watcher that turns a lease break into a private
//! snapshot of the mapping (Linux).
//!
//! ```text
//!  other process                kernel                     this process
//!  open(O_WRONLY) / truncate ──▶ lease break: sends   ──▶ signal handler: writes one
//!  (blocks)                      LEASE_SIGNAL              byte to the self-pipe
//!                                                          watcher thread wakes, finds
//!                                                          every mapping whose lease is
//!                                                          breaking (F_GETLEASE), copies
//!                                                          it to anonymous memory and
//!                                                          mremaps that over the same
//!                                                          addresses, then F_UNLCK
//!  open/truncate proceeds   ◀── lease released
//! ```
//!
//! The signal handler does only async-signal-safe work (one `write(2)` to a
//! non-blocking pipe). Everything else runs on the watcher thread. Because
//! the lease is released only after the snapshot is in place, the file
//! cannot shrink under a live view, so touching a view never raises SIGBUS.
//!
//! The kernel waits at most `/proc/sys/fs/lease-break-time` seconds (45 by
//! default) for the release; the watcher normally answers in well under a
//! millisecond.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};

use memmap2::Mmap;

use crate::copy::record_copy;

/// Offset from `SIGRTMIN` of the real-time signal the kernel sends when a
/// lease held by a mapped file is broken (set with `F_SETSIG`).
///
/// A real-time signal is queued rather than merged, and it carries the file
/// descriptor in `si_fd`. If the application already installed its own
/// handler for that signal, leases are not taken and the
/// [`LeasePolicy`](super::LeasePolicy) decides.
///
/// # Examples
///
/// ```
/// // The signal an application must leave alone while it maps files.
/// let signal = libc::SIGRTMIN() + weft_buf::mapped::LEASE_SIGNAL_OFFSET;
/// assert!(signal <= libc::SIGRTMAX());
/// ```
pub const LEASE_SIGNAL_OFFSET: i32 = 6;

/// `fcntl` command that picks the signal sent for a lease break (Linux
/// `<fcntl.h>`, the same on every architecture; absent from the `libc` crate).
const F_SETSIG: libc::c_int = 10;

static PIPE_WRITE_FD: AtomicI32 = AtomicI32::new(-1);
static REVOCATIONS: AtomicU64 = AtomicU64::new(0);
static WATCHER: OnceLock<Result<i32, String>> = OnceLock::new();
static REGISTRY: Mutex<Vec<Weak<Leased>>> = Mutex::new(Vec::new());

/// How many leased mappings have been turned into private snapshots in this
/// process.
pub(crate) fn revocations() -> u64 {
    REVOCATIONS.load(Ordering::Relaxed)
}

/// A mapping of a file on which this process holds a read lease.
pub(crate) struct Leased {
    map: Mmap,
    file: File,
    revoked: AtomicBool,
}

impl Leased {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map
    }

    pub(crate) fn was_revoked(&self) -> bool {
        self.revoked.load(Ordering::Acquire)
    }

    /// Replaces the file-backed pages with a private copy at the same
    /// addresses, then gives up the lease.
    fn revoke(&self) -> io::Result<()> {
        if self.was_revoked() {
            return Ok(());
        }
        snapshot_in_place(&self.map)?;
        self.revoked.store(true, Ordering::Release);
        REVOCATIONS.fetch_add(1, Ordering::Relaxed);
        fcntl(&self.file, libc::F_SETLEASE, libc::F_UNLCK).map(drop)
    }
}

/// Why a leased mapping could not be made.
pub(crate) enum LeaseFailure {
    /// The kernel (or this process's signal set-up) refused the lease; the
    /// file is handed back so the caller can apply its policy.
    Refused(io::Error, File),
    /// The lease was taken but mapping failed.
    Io(io::Error),
}

/// Attempts at a read lease while the kernel answers `EAGAIN`, and the
/// pause between them.
const LEASE_ATTEMPTS: u32 = 10;
const LEASE_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(1);

/// `F_SETLEASE, F_RDLCK`, retried a few times on `EAGAIN`. The kernel
/// refuses a read lease while any process has the file open for writing,
/// and that includes a child this process forked a moment ago that still
/// holds an inherited descriptor until it execs (Rust opens files
/// `O_CLOEXEC`, so it is gone within microseconds). A writer that stays
/// keeps the refusal, after at most [`LEASE_ATTEMPTS`] tries.
fn take_read_lease(file: &File) -> io::Result<libc::c_int> {
    let mut attempt = 1;
    loop {
        match fcntl(file, libc::F_SETLEASE, libc::F_RDLCK) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && attempt < LEASE_ATTEMPTS => {
                attempt += 1;
                std::thread::sleep(LEASE_RETRY_PAUSE);
            }
            other => return other,
        }
    }
}

/// The registry lock, held while a lease is taken and its mapping made, so
/// that the watcher cannot miss a break that arrives in between.
pub(crate) struct Registration(MutexGuard<'static, Vec<Weak<Leased>>>);

pub(crate) fn lock_registry() -> Registration {
    Registration(REGISTRY.lock().unwrap_or_else(PoisonError::into_inner))
}

impl Registration {
    /// Takes a read lease on `file`, maps it and registers the mapping.
    pub(crate) fn lease_and_map(&mut self, file: File) -> Result<Arc<Leased>, LeaseFailure> {
        let signal = match ensure_watcher() {
            Ok(s) => s,
            Err(e) => return Err(LeaseFailure::Refused(e, file)),
        };
        if let Err(e) = fcntl(&file, F_SETSIG, signal).and_then(|_| take_read_lease(&file)) {
            return Err(LeaseFailure::Refused(e, file));
        }
        // SAFETY: the file is open read-only and this process holds a read
        // lease on it, so no one can open it for writing or truncate it
        // without the kernel first telling the watcher, which replaces the
        // pages with a private copy before it releases the lease. The slice
        // therefore never changes and never loses its pages while mapped.
        let map = match unsafe { memmap2::MmapOptions::new().map(&file) } {
            Ok(m) => m,
            Err(e) => return Err(LeaseFailure::Io(e)),
        };
        let leased = Arc::new(Leased {
            map,
            file,
            revoked: AtomicBool::new(false),
        });
        self.0.retain(|w| w.strong_count() > 0);
        self.0.push(Arc::downgrade(&leased));
        Ok(leased)
    }
}

fn fcntl(file: &File, cmd: libc::c_int, arg: libc::c_int) -> io::Result<libc::c_int> {
    // SAFETY: F_SETSIG, F_SETLEASE and F_GETLEASE take an int argument and
    // only act on the descriptor, which `file` keeps open.
    let r = unsafe { libc::fcntl(file.as_raw_fd(), cmd, arg) };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Copies the mapped pages to fresh anonymous memory and atomically moves
/// that memory over the mapping's addresses with `mremap(MREMAP_FIXED)`.
/// Readers on other threads see the same bytes before and after.
fn snapshot_in_place(map: &Mmap) -> io::Result<()> {
    let len = map.len();
    if len == 0 {
        return Ok(());
    }
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let span = len
        .checked_next_multiple_of(page)
        .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
    let target = map.as_ptr() as *mut libc::c_void;
    // SAFETY: a fresh private anonymous mapping; no existing memory is
    // touched.
    let anon = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            span,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if anon == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `anon` is a new, writable mapping of `span >= len` bytes that
    // nothing else refers to.
    let dst = unsafe { std::slice::from_raw_parts_mut(anon.cast::<u8>(), len) };
    dst.copy_from_slice(map);
    record_copy(len);
    // SAFETY: `anon` spans `span` bytes and was mapped above; `target` is
    // the page-aligned start of the file mapping, which spans the same
    // `span` bytes (the kernel rounds it up to whole pages). MREMAP_FIXED
    // replaces the file pages with the copy atomically, so concurrent
    // readers of the mapping see identical bytes throughout.
    let moved = unsafe {
        libc::mprotect(anon, span, libc::PROT_READ);
        libc::mremap(
            anon,
            span,
            span,
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
            target,
        )
    };
    if moved == libc::MAP_FAILED {
        let e = io::Error::last_os_error();
        // SAFETY: the move failed, so `anon` is still our own mapping.
        unsafe { libc::munmap(anon, span) };
        return Err(e);
    }
    Ok(())
}

/// Revokes every registered mapping whose lease is being broken.
fn scan() {
    let live: Vec<Arc<Leased>> = {
        let mut reg = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
        reg.retain(|w| w.strong_count() > 0);
        reg.iter().filter_map(Weak::upgrade).collect()
    };
    for leased in live {
        if leased.was_revoked() {
            continue;
        }
        // While a read lease is being broken F_GETLEASE reports F_UNLCK.
        match fcntl(&leased.file, libc::F_GETLEASE, 0) {
            Ok(t) if t == libc::F_RDLCK => {}
            // If the snapshot fails the lease is kept: the kernel breaks it
            // after lease-break-time, which is no worse than no lease.
            _ => drop(leased.revoke()),
        }
    }
}

extern "C" fn on_lease_signal(
    _sig: libc::c_int,
    _info: *mut libc::siginfo_t,
    _ctx: *mut libc::c_void,
) {
    let fd = PIPE_WRITE_FD.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    // SAFETY: errno is thread-local; reading and restoring it keeps the
    // interrupted code's value. write(2) on a non-blocking pipe is
    // async-signal-safe; the buffer is a valid one-byte local.
    unsafe {
        let errno = *libc::__errno_location();
        let byte = 1u8;
        libc::write(fd, std::ptr::addr_of!(byte).cast(), 1);
        *libc::__errno_location() = errno;
    }
}

/// Installs the signal handler and starts the watcher thread, once.
/// Returns the lease signal number.
fn ensure_watcher() -> io::Result<i32> {
    WATCHER
        .get_or_init(|| start_watcher().map_err(|e| e.to_string()))
        .clone()
        .map_err(io::Error::other)
}

fn start_watcher() -> io::Result<i32> {
    let signal = libc::SIGRTMIN() + LEASE_SIGNAL_OFFSET;
    if signal > libc::SIGRTMAX() {
        return Err(io::Error::other("no real-time signal free for leases"));
    }
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    let [read_fd, write_fd] = fds;
    // SAFETY: `write_fd` was just opened; making it non-blocking means the
    // signal handler can never block on a full pipe.
    unsafe { libc::fcntl(write_fd, libc::F_SETFL, libc::O_NONBLOCK) };
    PIPE_WRITE_FD.store(write_fd, Ordering::Relaxed);

    // SAFETY: sigaction is plain old data; zeroed is a valid empty mask.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_lease_signal as *const () as usize;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
    // SAFETY: as above.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: both structs are valid; the handler only does
    // async-signal-safe work.
    if unsafe { libc::sigaction(signal, &action, &mut old) } == -1 {
        return Err(io::Error::last_os_error());
    }
    if old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN {
        // Someone else owns this signal: give it back and take no leases.
        // SAFETY: restores the handler that was there.
        unsafe { libc::sigaction(signal, &old, std::ptr::null_mut()) };
        return Err(io::Error::other("lease signal already has a handler"));
    }
    std::thread::Builder::new()
        .name("weft-lease-watcher".into())
        .spawn(move || watch(read_fd))?;
    Ok(signal)
}

fn watch(read_fd: libc::c_int) {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: `buf` is valid for its length; `read_fd` stays open for the
        // life of the process.
        let n = unsafe { libc::read(read_fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n == 0 {
            return;
        }
        if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
        scan();
    }
}
