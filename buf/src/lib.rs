//! Weft's buffers: reference-counted slice, wrap, composite, mapped and
//! pooled buffers that carry bytes through codecs without a copy in user
//! space.
//!
//! [`bytes::Bytes`] is the one reference-counted, sliceable view. This crate
//! adds what `bytes` lacks for a networking framework:
//!
//! - [`CompositeBuf`]: many `Bytes` segments read as one buffer (Netty's
//!   `CompositeByteBuf`, without its silent consolidation);
//! - [`wrap`] and friends: owners of memory as `Bytes`, never copied;
//! - [`FileRegion`]: a range of a file, sent later with `sendfile`;
//! - [`MappedFile`]: a file mapped as `Bytes`, guarded against SIGBUS by a
//!   read lease;
//! - [`pool`]: the one pooling scheme: per-thread caches of receive chunks
//!   (reused in place once their last view drops) and staging buffers, with
//!   one set of stats;
//! - [`copy`]: accounting of every payload byte Weft copies, so tests can
//!   assert zero.
//!
//! # Examples
//!
//! ```
//! use bytes::{Buf, Bytes};
//! use weft_buf::{measure_copies, CompositeBuf};
//!
//! // A frame arrives in three reads.
//! let reads = [&b"\x00\x00\x00\x0bhel"[..], b"lo wo", b"rld"];
//! let mut cumulation: CompositeBuf =
//!     reads.iter().map(|r| Bytes::copy_from_slice(r)).collect();
//!
//! let (frame, copied) = measure_copies(|| {
//!     let len = cumulation.get_u32() as usize;
//!     cumulation.split_to(len)
//! });
//! assert_eq!(frame, &b"hello world"[..]);
//! assert_eq!(copied, 0);
//! ```
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

pub mod composite;
pub mod copy;
mod error;
pub mod mapped;
pub mod pool;
pub mod region;
mod wrap;

pub use composite::CompositeBuf;
pub use copy::{measure_copies, record_copy, thread_copied, total_copied};
pub use error::BufError;
pub use mapped::{LeasePolicy, MappedFile};
pub use pool::PoolStats;
pub use region::FileRegion;
pub use wrap::{wrap, wrap_boxed, wrap_static, wrap_string, wrap_vec};
