//! The record-layer half of a flush: handing the flushed entries at the
//! front to an encrypting writer (TLS) instead of the kernel.
//!
//! In-memory segments go to the writer as one gather (`write_vectored`),
//! uncopied: the record layer writes each byte once, as it encrypts it. A
//! file region is `pread` into the thread's staging buffer first (a
//! counted copy: encryption needs the bytes in memory) and handed on from
//! there; nothing of it stays in the staging buffer between steps, since
//! the writer is offered no more than it takes whole.

use std::io::{self, IoSlice, Write};
use std::os::fd::AsFd;

use weft_buf::pool::STAGING;
use weft_pipeline::Wire;

use super::file::{truncated, COPY_CHUNK};
use super::gather::IoVecs;
use super::{Completion, OutboundBuffer};
use crate::stats::Counter;
use crate::sys::{self, IOV_MAX};

impl<P: Completion> OutboundBuffer<P> {
    /// Hands at most `room` bytes of the flushed entries at the front to
    /// `sealer` and drops what it took, completing whole entries; returns
    /// the bytes taken (0 when nothing flushed is left). `sealer` must take
    /// at least what it is offered up to `room` bytes (rustls' writer does,
    /// within its buffer limit).
    ///
    /// # Errors
    ///
    /// The sealer's, or a file region's read error (`UnexpectedEof` for a
    /// file shorter than its region).
    pub(crate) fn seal_step(&mut self, sealer: &mut dyn Write, room: usize) -> io::Result<usize> {
        self.complete_empty();
        if self.flushed == 0 || room == 0 {
            return Ok(0);
        }
        let n = match STAGING.try_with(|s| {
            s.try_borrow_mut()
                .ok()
                .map(|mut staging| self.seal_with(sealer, room, &mut staging))
        }) {
            Ok(Some(r)) => r?,
            _ => self.seal_with(sealer, room, &mut Vec::new())?,
        };
        self.advance(n);
        self.complete_empty();
        Ok(n)
    }

    /// One gather for [`seal_step`](Self::seal_step): the in-memory
    /// segments at the front up to the first file region, and that region
    /// (or its first `room`/[`COPY_CHUNK`] bytes) read into `staging`, so
    /// a response's head and a small body go into one record.
    fn seal_with(
        &self,
        sealer: &mut dyn Write,
        room: usize,
        staging: &mut Vec<u8>,
    ) -> io::Result<usize> {
        let flushed = || self.queue.iter().take(self.flushed);
        let in_memory: usize = flushed()
            .map_while(|e| match &e.payload {
                Wire::File(..) => None,
                p => Some(usize::try_from(p.len()).unwrap_or(usize::MAX)),
            })
            .fold(0, usize::saturating_add);
        let file = flushed().find_map(|e| match &e.payload {
            Wire::File(region) => Some(region),
            _ => None,
        });
        let mut file_bytes = 0;
        if let (Some(region), Some(left)) = (file, room.checked_sub(in_memory)) {
            let want = usize::try_from(region.len())
                .unwrap_or(usize::MAX)
                .min(left)
                .min(COPY_CHUNK);
            if want > 0 {
                if staging.len() < want {
                    staging.resize(want, 0);
                }
                self.stats.add(Counter::ReadCalls, 1);
                let got = sys::pread(
                    region.file().as_fd(),
                    staging.get_mut(..want).unwrap_or_default(),
                    region.offset(),
                )?;
                if got == 0 {
                    return Err(truncated(region));
                }
                self.stats.record_copy(got);
                self.stats.add(Counter::CopyBytes, got as u64);
                file_bytes = got;
            }
        }
        let mut iovs: IoVecs<'_> = IoVecs::new();
        let mut left = room;
        let segs = flushed()
            .map_while(|e| match &e.payload {
                Wire::Bytes(b) => Some(std::slice::from_ref(b)),
                Wire::Composite(c) => Some(c.segments()),
                Wire::File(..) => None,
            })
            .flatten()
            .map(|b| &b[..])
            .chain(std::iter::once(
                staging.get(..file_bytes).unwrap_or_default(),
            ))
            .filter(|b| !b.is_empty());
        for seg in segs {
            if left == 0 || iovs.len() == IOV_MAX {
                break;
            }
            let take = seg.len().min(left);
            iovs.push(IoSlice::new(seg.get(..take).unwrap_or_default()));
            left -= take;
        }
        // What the sealer does not take of the file is read again next
        // time (pread is positional), so nothing is carried over.
        sealer.write_vectored(&iovs)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::sync::Arc;

    use bytes::Bytes;
    use weft_buf::{CompositeBuf, FileRegion};

    use crate::{OutboundBuffer, Stats};

    /// A sealer that takes at most `limit` bytes a call, recording the
    /// gathers it was offered.
    struct Recorder {
        got: Vec<u8>,
        calls: Vec<usize>,
        limit: usize,
    }

    impl std::io::Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.write_vectored(&[std::io::IoSlice::new(buf)])
        }
        fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
            self.calls.push(bufs.len());
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.limit - n);
                self.got.extend_from_slice(&b[..take]);
                n += take;
            }
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn memory_and_file_entries_go_in_order_and_only_the_file_is_copied() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&[b'f'; 100_000]).unwrap();
        let stats = Arc::new(Stats::new());
        let mut out: OutboundBuffer = OutboundBuffer::new(stats.clone());
        let parts: CompositeBuf = [Bytes::from_static(b"head "), Bytes::from(vec![b'b'; 3000])]
            .into_iter()
            .collect();
        let (tx, mut rx) = futures::channel::oneshot::channel();
        out.push(parts, Some(tx));
        out.push(FileRegion::from_file(f).unwrap(), None);
        out.push(Bytes::from_static(b" tail"), None);
        out.flush();
        let mut r = Recorder {
            got: Vec::new(),
            calls: Vec::new(),
            limit: 65536,
        };
        let ((), copied) =
            weft_buf::measure_copies(|| while out.seal_step(&mut r, 65536).unwrap() > 0 {});
        assert_eq!(r.got.len(), 3005 + 100_000 + 5);
        assert!(r.got.starts_with(b"head bbb"));
        assert!(r.got.ends_with(b"ff tail"));
        // One gather of both segments and the file's first 64 KiB - 3005
        // bytes (one record for a head and its body), the rest of the
        // file, the tail.
        assert_eq!(r.calls, vec![3, 1, 1]);
        assert_eq!(copied, 100_000, "only the file's bytes are copied");
        assert_eq!(stats.snapshot().copied_bytes, 100_000);
        assert!(rx.try_recv().unwrap().unwrap().is_ok());
        assert!(out.is_empty());
    }

    #[test]
    fn a_sealer_taking_less_resumes_where_it_stopped() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"0123456789").unwrap();
        let mut out: OutboundBuffer = OutboundBuffer::new(Default::default());
        out.push(Bytes::from_static(b"abcdef"), None);
        out.push(FileRegion::from_file(f).unwrap(), None);
        out.flush();
        let mut r = Recorder {
            got: Vec::new(),
            calls: Vec::new(),
            limit: 4,
        };
        while out.seal_step(&mut r, 1000).unwrap() > 0 {}
        assert_eq!(r.got, b"abcdef0123456789");
    }

    #[test]
    fn a_truncated_file_fails_the_step() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"0123456789").unwrap();
        let region = FileRegion::from_file(f.try_clone().unwrap()).unwrap();
        f.set_len(3).unwrap();
        let mut out: OutboundBuffer = OutboundBuffer::new(Default::default());
        out.push(region, None);
        out.flush();
        let mut r = Recorder {
            got: Vec::new(),
            calls: Vec::new(),
            limit: 1000,
        };
        assert_eq!(out.seal_step(&mut r, 1000).unwrap(), 3);
        let e = out.seal_step(&mut r, 1000).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    }
}
