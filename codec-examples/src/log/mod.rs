//! `weft log`: an append-only log broker, the seed article's Kafka lesson
//! made runnable; and `weft log-client`, its command-line producer and
//! consumer.
//!
//! Records are appended to segment files that roll at a configurable size;
//! each segment has a sparse offset index kept in a memory map (as Kafka and
//! RocketMQ index their logs); a fetch answers with a small header followed
//! by a [`weft_buf::FileRegion`] cut straight from the segment file, which
//! the transport sends with `sendfile`, so fetched records never enter user
//! space.
//!
//! ```text
//!  produce ──▶ decode (records = slices of the reads) ──▶ writev(headers + payloads) ──▶ 000…000.log
//!                                                                 │ every 4 KiB     000…000.index (mmap)
//!  fetch   ──▶ index lookup (mmap) + header walk ──▶ [header][FileRegion of .log] ──▶ sendfile
//! ```
//!
//! The wire protocol is in [`protocol`], the on-disk record in [`record`],
//! the index in [`index`], recovery in [`segment`].
//!
//! Restart recovers: each segment's index entries are checked against the
//! records they point at (entries that do not match are dropped), the
//! records after the last good entry are read and CRC-checked (rebuilding
//! the index on the way), and a torn record at the tail (short, or a bad
//! CRC) is cut off together with whatever follows it.

pub mod crc;
pub mod index;
pub mod protocol;
pub mod record;
pub mod segment;
pub mod store;
