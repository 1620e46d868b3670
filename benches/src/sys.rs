//! The bench's system-call helpers, and its only `unsafe` code.
//!
//! Everything here is a thin wrapper: the loops that call these live in
//! [`crate::paths`] and [`crate::frames`], where each call is counted.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use memmap2::Mmap;
use nix::fcntl::{fcntl, FcntlArg};
use nix::sys::resource::{getrusage, UsageWho};

/// Maps `file` read-only into memory (one `mmap`; dropping the map is one
/// `munmap`).
pub(crate) fn map_file(file: &File) -> io::Result<Mmap> {
    // SAFETY: the only files this bench maps are the temporary files it
    // created itself (see `crate::Input`); no other process knows their
    // names, and the bench never writes or truncates a file while a map of
    // it is alive, so the mapped pages stay valid (no SIGBUS) and the bytes
    // behind the slice never change while it is borrowed.
    unsafe { Mmap::map(file) }
}

/// CPU time (user + system) the calling thread has used so far.
pub(crate) fn thread_cpu() -> io::Result<Duration> {
    let usage = getrusage(UsageWho::RUSAGE_THREAD).map_err(io::Error::from)?;
    let user = usage.user_time();
    let sys = usage.system_time();
    let micros = |tv: nix::sys::time::TimeVal| {
        let s = u64::try_from(tv.tv_sec()).unwrap_or(0);
        let us = u64::try_from(tv.tv_usec()).unwrap_or(0);
        Duration::from_secs(s) + Duration::from_micros(us)
    };
    Ok(micros(user) + micros(sys))
}

/// A pipe whose capacity was raised to `size` bytes where the kernel allows
/// it; returns (read end, write end, capacity). Costs 2 syscalls.
pub(crate) fn pipe_with_size(size: usize) -> io::Result<(OwnedFd, OwnedFd, usize)> {
    let (r, w) = nix::unistd::pipe().map_err(io::Error::from)?;
    let want = i32::try_from(size).unwrap_or(i32::MAX);
    let cap = match fcntl(w.as_fd(), FcntlArg::F_SETPIPE_SZ(want)) {
        Ok(n) => usize::try_from(n).unwrap_or(64 * 1024),
        // Over /proc/sys/fs/pipe-max-size for an unprivileged user: keep
        // the default capacity.
        Err(_) => 64 * 1024,
    };
    Ok((r, w, cap))
}
