//! Copy accounting: every place Weft copies payload bytes in user space reports
//! here, so tests and benchmarks can prove "zero".
//!
//! Two counters are kept: one per thread (read by [`measure_copies`]) and one
//! for the whole process (read by [`total_copied`], for benchmarks).
//!
//! A crate that copies payload bytes on Weft's behalf calls [`record_copy`]
//! with the number of bytes it copied.
//!
//! # Examples
//!
//! ```
//! use bytes::Bytes;
//! use weft_buf::{copy, CompositeBuf};
//!
//! let buf: CompositeBuf = [Bytes::from_static(b"ab"), Bytes::from_static(b"cd")]
//!     .into_iter()
//!     .collect();
//! let (_, copied) = copy::measure_copies(|| buf.to_bytes());
//! assert_eq!(copied, 4);
//! ```

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

static TOTAL: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREAD: Cell<u64> = const { Cell::new(0) };
}

/// Records that `n` payload bytes were copied in user space on this thread.
///
/// Every copying path in every Weft crate calls this. It is an O(1) operation:
/// one thread-local add and one relaxed atomic add.
///
/// # Examples
///
/// ```
/// let ((), copied) = weft_buf::measure_copies(|| weft_buf::record_copy(5));
/// assert_eq!(copied, 5);
/// ```
#[inline]
pub fn record_copy(n: usize) {
    if n == 0 {
        return;
    }
    let n = n as u64;
    THREAD.with(|c| c.set(c.get().wrapping_add(n)));
    TOTAL.fetch_add(n, Ordering::Relaxed);
}

/// Runs `f` and returns its result with the number of payload bytes Weft
/// copied on the current thread while it ran.
///
/// Copies made on other threads (for example by a transport task on another
/// worker) are not included; read [`total_copied`] for those.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_buf::{measure_copies, CompositeBuf};
///
/// let buf: CompositeBuf = [Bytes::from_static(b"ab"), Bytes::from_static(b"cd")]
///     .into_iter()
///     .collect();
/// let (head, copied) = measure_copies(|| buf.slice(1..3));
/// assert_eq!(head, &b"bc"[..]);
/// assert_eq!(copied, 0);
///
/// let (flat, copied) = measure_copies(|| buf.to_bytes());
/// assert_eq!(flat, &b"abcd"[..]);
/// assert_eq!(copied, 4);
/// ```
pub fn measure_copies<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = thread_copied();
    let r = f();
    let after = thread_copied();
    (r, after.wrapping_sub(before))
}

/// Payload bytes copied on the current thread since it started.
///
/// # Examples
///
/// ```
/// let before = weft_buf::thread_copied();
/// weft_buf::record_copy(3);
/// assert_eq!(weft_buf::thread_copied() - before, 3);
/// ```
pub fn thread_copied() -> u64 {
    THREAD.with(Cell::get)
}

/// Payload bytes copied by Weft in this whole process since it started.
///
/// # Examples
///
/// ```
/// let before = weft_buf::total_copied();
/// weft_buf::record_copy(7);
/// assert!(weft_buf::total_copied() >= before + 7);
/// ```
pub fn total_copied() -> u64 {
    TOTAL.load(Ordering::Relaxed)
}

/// Bytes written by encryption and decryption (TLS), kept apart from copies.
///
/// Encrypting writes every plaintext byte once into a record, and
/// decrypting writes every ciphertext byte once as plaintext: that work is
/// what TLS costs, not a copy Weft could avoid, so it is counted here and
/// never in [`total_copied`]. The copy table shows both.
static ENCRYPTED: AtomicU64 = AtomicU64::new(0);
static DECRYPTED: AtomicU64 = AtomicU64::new(0);

/// Records that encryption wrote `n` plaintext bytes into TLS records.
///
/// # Examples
///
/// ```
/// let before = weft_buf::copy::total_encrypted();
/// weft_buf::copy::record_encrypt(16);
/// assert!(weft_buf::copy::total_encrypted() >= before + 16);
/// assert_eq!(weft_buf::measure_copies(|| weft_buf::copy::record_encrypt(1)).1, 0);
/// ```
#[inline]
pub fn record_encrypt(n: usize) {
    ENCRYPTED.fetch_add(n as u64, Ordering::Relaxed);
}

/// Records that decryption produced `n` plaintext bytes.
///
/// # Examples
///
/// ```
/// let before = weft_buf::copy::total_decrypted();
/// weft_buf::copy::record_decrypt(16);
/// assert!(weft_buf::copy::total_decrypted() >= before + 16);
/// ```
#[inline]
pub fn record_decrypt(n: usize) {
    DECRYPTED.fetch_add(n as u64, Ordering::Relaxed);
}

/// Plaintext bytes encrypted by Weft in this process (see [`record_encrypt`]).
///
/// # Examples
///
/// ```
/// let _ = weft_buf::copy::total_encrypted();
/// ```
pub fn total_encrypted() -> u64 {
    ENCRYPTED.load(Ordering::Relaxed)
}

/// Plaintext bytes decrypted by Weft in this process (see [`record_decrypt`]).
///
/// # Examples
///
/// ```
/// let _ = weft_buf::copy::total_decrypted();
/// ```
pub fn total_decrypted() -> u64 {
    DECRYPTED.load(Ordering::Relaxed)
}
