//! Wrapping owned memory as [`Bytes`] without copying it.
//!
//! `Bytes` is Weft's one reference-counted byte view; these functions only
//! name the zero-copy conversions so that a reader can find them. Each one
//! keeps the owner's allocation: the returned `Bytes` points at the same
//! memory.

use bytes::Bytes;

/// Wraps any owner of bytes (a `Vec`, a memory map, a pooled chunk, ...) as
/// [`Bytes`] without copying, via [`Bytes::from_owner`]. The owner is dropped
/// when the last view of it drops.
///
/// # Examples
///
/// ```
/// struct Page([u8; 4]);
/// impl AsRef<[u8]> for Page {
///     fn as_ref(&self) -> &[u8] { &self.0 }
/// }
/// let b = weft_buf::wrap(Page(*b"weft"));
/// assert_eq!(b, &b"weft"[..]);
/// ```
pub fn wrap<T>(owner: T) -> Bytes
where
    T: AsRef<[u8]> + Send + 'static,
{
    Bytes::from_owner(owner)
}

/// Wraps a `Vec<u8>` without copying.
///
/// # Examples
///
/// ```
/// let v = b"abc".to_vec();
/// let ptr = v.as_ptr();
/// let b = weft_buf::wrap_vec(v);
/// assert_eq!(b.as_ptr(), ptr);
/// ```
pub fn wrap_vec(v: Vec<u8>) -> Bytes {
    Bytes::from(v)
}

/// Wraps a boxed slice without copying.
///
/// # Examples
///
/// ```
/// let bx: Box<[u8]> = Box::new(*b"abc");
/// let ptr = bx.as_ptr();
/// assert_eq!(weft_buf::wrap_boxed(bx).as_ptr(), ptr);
/// ```
pub fn wrap_boxed(b: Box<[u8]>) -> Bytes {
    Bytes::from(b)
}

/// Wraps a `String`'s bytes without copying.
///
/// # Examples
///
/// ```
/// let s = String::from("hi");
/// let ptr = s.as_ptr();
/// assert_eq!(weft_buf::wrap_string(s).as_ptr(), ptr);
/// ```
pub fn wrap_string(s: String) -> Bytes {
    Bytes::from(s)
}

/// Wraps a static slice without copying (and without a reference count).
///
/// # Examples
///
/// ```
/// static GREETING: &[u8] = b"hello";
/// assert_eq!(weft_buf::wrap_static(GREETING).as_ptr(), GREETING.as_ptr());
/// ```
pub fn wrap_static(s: &'static [u8]) -> Bytes {
    Bytes::from_static(s)
}
