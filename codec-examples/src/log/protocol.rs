//! The broker's wire protocol: length-prefixed binary frames.
//!
//! Every frame, both ways, is a 4-byte big-endian length of what follows,
//! then that many bytes. Integers are big-endian.
//!
//! ```text
//!  request  = len:u32 | kind:u8 | body
//!
//!  PRODUCE (kind 1)                     FETCH (kind 2)
//!  +-------+---+-------+-------+----+   +-------+---+--------+---------+-----------+
//!  | len   | 1 | count | rlen  | .. |   | len=17| 2 | offset |max_bytes|max_wait_ms|
//!  | u32   |u8 | u32   | u32   |rec |   | u32   |u8 | u64    | u32     | u32       |
//!  +-------+---+-------+-------+----+   +-------+---+--------+---------+-----------+
//!                      `-- count times --'
//!
//!  response = len:u32 | status:u8 | body
//!
//!  PRODUCE ok                       FETCH ok
//!  +-------+---+--------+-------+   +-------+---+--------+---------+---------------------+
//!  | len=13| 0 | first  | count |   | len   | 0 | first  | log_end | records, as on disk |
//!  | u32   |u8 | u64    | u32   |   | u32   |u8 | u64    | u64     | (sendfile)          |
//!  +-------+---+--------+-------+   +-------+---+--------+---------+---------------------+
//!
//!  error: status != 0 (see [`Status`]), body = a UTF-8 message
//!  +-------+--------+-------------------------------------------+
//!  | len   | status | "offset 9 is beyond the end of the log ..." |
//!  +-------+--------+-------------------------------------------+
//! ```
//!
//! A record in a FETCH answer is `offset:u64 | len:u32 | crc:u32 | payload`
//! (see [`super::record`]), so the consumer learns every offset and checks
//! every CRC. A fetch answers whole records, at most `max_bytes` of them but
//! at least one; one that reaches the end of a segment goes on into the
//! next segments in the same answer while the budget lasts (the broker
//! sends one file region per segment behind the header, the consumer sees
//! one run of records). It may answer fewer records than remain, and the
//! consumer asks again from the next offset. A fetch at the end of
//! the log waits up to `max_wait_ms` for new records, then answers none.
//! A fetch past the end is an error (status 1), and so is one below the
//! oldest offset that retention kept ("offset 3 is out of range: retention
//! deleted the records before offset 40").
//!
//! A frame over [`MAX_FRAME_BYTES`] is answered with status 2 and the
//! connection is closed (the stream cannot be trusted); any other bad
//! request is answered and the connection goes on.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use weft_buf::CompositeBuf;

use super::record::MAX_RECORD_LEN;

/// Largest request or response frame body accepted (32 MiB).
pub const MAX_FRAME_BYTES: usize = 32 * 1024 * 1024;
/// Largest `max_bytes` honoured by a fetch; larger asks are cut to it.
pub const MAX_FETCH_BYTES: u32 = 16 * 1024 * 1024;
/// Longest a fetch at the end of the log waits (30 s).
pub const MAX_WAIT_MS: u32 = 30_000;

/// Request kind byte of PRODUCE.
pub const KIND_PRODUCE: u8 = 1;
/// Request kind byte of FETCH.
pub const KIND_FETCH: u8 = 2;

/// Bytes of a FETCH answer before its records (length prefix included).
pub const FETCH_HEADER_LEN: usize = 4 + 1 + 8 + 8;

/// The status byte of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[repr(u8)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// FETCH past the end of the log, or below its start (retention
    /// deleted that segment).
    OffsetOutOfRange = 1,
    /// A malformed request or one over a limit.
    BadRequest = 2,
    /// The disk refused the write or the read (`ENOSPC`, `EIO`, ...).
    StorageError = 3,
    /// A record over the record size limit.
    RecordTooLarge = 4,
}

impl Status {
    /// The status of a byte, if it is one.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::log::protocol::Status;
    /// assert_eq!(Status::from_u8(1), Some(Status::OffsetOutOfRange));
    /// assert_eq!(Status::from_u8(99), None);
    /// ```
    pub fn from_u8(b: u8) -> Option<Status> {
        Some(match b {
            0 => Status::Ok,
            1 => Status::OffsetOutOfRange,
            2 => Status::BadRequest,
            3 => Status::StorageError,
            4 => Status::RecordTooLarge,
            _ => return None,
        })
    }
}

/// One decoded request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// Append these records (slices of the reads they came in).
    Produce(Vec<CompositeBuf>),
    /// Records from `offset`, at most `max_bytes`, waiting up to
    /// `max_wait_ms` at the end of the log.
    Fetch {
        /// First offset wanted.
        offset: u64,
        /// Byte budget (at least one record is always answered).
        max_bytes: u32,
        /// How long to wait at the end of the log.
        max_wait_ms: u32,
    },
}

/// A request that cannot be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest {
    /// What to tell the client.
    pub message: String,
    /// The frame boundary is lost: close after answering.
    pub fatal: bool,
    /// The status to answer with.
    pub status: Status,
}

impl BadRequest {
    fn new(message: impl Into<String>) -> BadRequest {
        BadRequest {
            message: message.into(),
            fatal: false,
            status: Status::BadRequest,
        }
    }
}

impl std::fmt::Display for BadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BadRequest {}

/// Takes one request frame off the front of `buf`.
///
/// `Ok(None)`: need more bytes. The length is checked against
/// [`MAX_FRAME_BYTES`] before waiting for the body; record counts and
/// lengths are checked against the frame before anything is allocated.
///
/// # Errors
///
/// A [`BadRequest`]; `fatal` when the frame length itself is bad.
///
/// # Examples
///
/// ```
/// use weft_buf::CompositeBuf;
/// use weft_examples::log::protocol::{decode_request, encode_fetch, Request};
/// let mut buf = CompositeBuf::from(encode_fetch(7, 1024, 0));
/// assert_eq!(
///     decode_request(&mut buf).unwrap(),
///     Some(Request::Fetch { offset: 7, max_bytes: 1024, max_wait_ms: 0 })
/// );
/// assert!(buf.is_empty());
/// ```
pub fn decode_request(buf: &mut CompositeBuf) -> Result<Option<Request>, BadRequest> {
    let Ok(len) = buf.try_get_u32_at(0) else {
        return Ok(None);
    };
    let len = len as usize;
    if len > MAX_FRAME_BYTES {
        return Err(BadRequest {
            message: format!("frame of {len} bytes is over the {MAX_FRAME_BYTES}-byte limit"),
            fatal: true,
            status: Status::BadRequest,
        });
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    buf.advance(4);
    let mut frame = buf.split_to(len);
    if frame.is_empty() {
        return Err(BadRequest::new("empty request"));
    }
    match frame.get_u8() {
        KIND_PRODUCE => {
            if frame.len() < 4 {
                return Err(BadRequest::new("produce request without a record count"));
            }
            let count = frame.get_u32() as usize;
            // Each record takes at least its 4-byte length: a count that
            // cannot fit is refused before the vector is sized by it.
            if count > frame.len() / 4 {
                return Err(BadRequest::new(format!(
                    "produce request claims {count} records in {} bytes",
                    frame.len()
                )));
            }
            if count == 0 {
                return Err(BadRequest::new("produce request with no records"));
            }
            let mut records = Vec::with_capacity(count);
            for i in 0..count {
                if frame.len() < 4 {
                    return Err(BadRequest::new(format!("record {i} has no length")));
                }
                let rlen = frame.get_u32();
                if rlen > MAX_RECORD_LEN {
                    return Err(BadRequest {
                        message: format!(
                            "record {i} of {rlen} bytes is over the {MAX_RECORD_LEN}-byte limit"
                        ),
                        fatal: false,
                        status: Status::RecordTooLarge,
                    });
                }
                if frame.len() < rlen as usize {
                    return Err(BadRequest::new(format!(
                        "record {i} claims {rlen} bytes, {} left in the frame",
                        frame.len()
                    )));
                }
                records.push(frame.split_to(rlen as usize));
            }
            if !frame.is_empty() {
                return Err(BadRequest::new(format!(
                    "{} bytes after the last record",
                    frame.len()
                )));
            }
            Ok(Some(Request::Produce(records)))
        }
        KIND_FETCH => {
            if frame.len() != 16 {
                return Err(BadRequest::new(format!(
                    "fetch request body is {} bytes, not 16",
                    frame.len()
                )));
            }
            Ok(Some(Request::Fetch {
                offset: frame.get_u64(),
                max_bytes: frame.get_u32(),
                max_wait_ms: frame.get_u32(),
            }))
        }
        other => Err(BadRequest::new(format!("unknown request kind {other}"))),
    }
}

/// A PRODUCE request frame for `records`.
///
/// # Examples
///
/// ```
/// let f = weft_examples::log::protocol::encode_produce(&[b"ab"]);
/// assert_eq!(&f[..], &[0, 0, 0, 11, 1, 0, 0, 0, 1, 0, 0, 0, 2, b'a', b'b']);
/// ```
pub fn encode_produce<R: AsRef<[u8]>>(records: &[R]) -> Bytes {
    let body: usize = records.iter().map(|r| 4 + r.as_ref().len()).sum();
    let mut out = BytesMut::with_capacity(4 + 5 + body);
    out.put_u32((5 + body) as u32);
    out.put_u8(KIND_PRODUCE);
    out.put_u32(records.len() as u32);
    for r in records {
        out.put_u32(r.as_ref().len() as u32);
        out.put_slice(r.as_ref());
    }
    out.freeze()
}

/// A FETCH request frame.
///
/// # Examples
///
/// ```
/// assert_eq!(weft_examples::log::protocol::encode_fetch(0, 1, 2).len(), 21);
/// ```
pub fn encode_fetch(offset: u64, max_bytes: u32, max_wait_ms: u32) -> Bytes {
    let mut out = BytesMut::with_capacity(21);
    out.put_u32(17);
    out.put_u8(KIND_FETCH);
    out.put_u64(offset);
    out.put_u32(max_bytes);
    out.put_u32(max_wait_ms);
    out.freeze()
}

/// The PRODUCE success answer.
///
/// # Examples
///
/// ```
/// assert_eq!(weft_examples::log::protocol::produce_ok(5, 2).len(), 17);
/// ```
pub fn produce_ok(first_offset: u64, count: u32) -> Bytes {
    let mut out = BytesMut::with_capacity(17);
    out.put_u32(13);
    out.put_u8(Status::Ok as u8);
    out.put_u64(first_offset);
    out.put_u32(count);
    out.freeze()
}

/// The head of a FETCH success answer whose records take `records_len`
/// bytes; the records follow as file regions (one per segment).
///
/// # Examples
///
/// ```
/// let h = weft_examples::log::protocol::fetch_header(3, 10, 100);
/// assert_eq!(&h[..5], &[0, 0, 0, 117, 0]);
/// ```
pub fn fetch_header(first_offset: u64, log_end: u64, records_len: u32) -> Bytes {
    let mut out = BytesMut::with_capacity(FETCH_HEADER_LEN);
    out.put_u32(17 + records_len);
    out.put_u8(Status::Ok as u8);
    out.put_u64(first_offset);
    out.put_u64(log_end);
    out.freeze()
}

/// An error answer.
///
/// # Examples
///
/// ```
/// use weft_examples::log::protocol::{error_frame, Status};
/// assert_eq!(&error_frame(Status::BadRequest, "no")[..], &[0, 0, 0, 3, 2, b'n', b'o']);
/// ```
pub fn error_frame(status: Status, message: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.put_u32(1 + message.len() as u32);
    out.put_u8(status as u8);
    out.put_slice(message.as_bytes());
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_produce_frame_split_at_every_point_decodes_to_slices() {
        let frame = encode_produce(&[&b"alpha"[..], b"", b"gamma ray"]);
        for cut in 0..=frame.len() {
            let mut buf = CompositeBuf::from(frame.slice(..cut));
            if cut < frame.len() {
                assert_eq!(decode_request(&mut buf).unwrap(), None, "cut {cut}");
                buf.push(frame.slice(cut..));
            }
            let (req, copied) = weft_buf::measure_copies(|| decode_request(&mut buf));
            assert_eq!(copied, 0);
            let Some(Request::Produce(recs)) = req.unwrap() else {
                panic!("a produce request");
            };
            assert_eq!(recs.len(), 3);
            assert_eq!(recs[2], &b"gamma ray"[..]);
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn lies_in_lengths_are_refused_before_allocating() {
        // Frame length over the limit: fatal.
        let mut buf = CompositeBuf::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(decode_request(&mut buf).unwrap_err().fatal);
        // A count of 4 billion records in a 9-byte frame.
        let mut buf = CompositeBuf::from(&[0, 0, 0, 5, 1, 0xff, 0xff, 0xff, 0xff][..]);
        let err = decode_request(&mut buf).unwrap_err();
        assert!(!err.fatal);
        assert!(err.message.contains("claims 4294967295 records"));
        // A record longer than its frame.
        let mut buf = CompositeBuf::from(&[0, 0, 0, 9, 1, 0, 0, 0, 1, 0, 0, 0, 9][..]);
        assert!(decode_request(&mut buf)
            .unwrap_err()
            .message
            .contains("claims 9 bytes"));
        // Unknown kind and short fetch.
        let mut buf = CompositeBuf::from(&[0, 0, 0, 1, 7, 0, 0, 0, 2, 2, 0][..]);
        assert!(decode_request(&mut buf)
            .unwrap_err()
            .message
            .contains("kind 7"));
        assert!(decode_request(&mut buf)
            .unwrap_err()
            .message
            .contains("not 16"));
    }

    /// Frames (or errors) in order until a fatal error, feeding `input` in
    /// pieces of `chunk` bytes.
    fn outcome(input: &[u8], chunk: usize) -> Vec<Result<Request, BadRequest>> {
        let mut buf = CompositeBuf::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            buf.push(Bytes::copy_from_slice(piece));
            loop {
                match decode_request(&mut buf) {
                    Ok(Some(req)) => out.push(Ok(req)),
                    Ok(None) => break,
                    Err(e) if e.fatal => {
                        out.push(Err(e));
                        return out;
                    }
                    Err(e) => out.push(Err(e)),
                }
            }
        }
        out
    }

    #[test]
    fn mutated_streams_decode_the_same_however_they_are_split_and_never_panic() {
        let mut stream = Vec::new();
        stream.extend_from_slice(&encode_produce(&[&b"one"[..], b"", b"three"]));
        stream.extend_from_slice(&encode_fetch(42, 4096, 10));
        stream.extend_from_slice(&encode_produce(&[b"x".repeat(40)]));
        let mut seed: u32 = 777;
        let mut next = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            seed >> 8
        };
        for _ in 0..3000 {
            let mut input = stream.clone();
            for _ in 0..(1 + next() % 3) {
                let at = next() as usize % input.len();
                input[at] = next() as u8;
            }
            let whole = outcome(&input, input.len());
            for chunk in [1, 3, 16] {
                assert_eq!(
                    outcome(&input, chunk),
                    whole,
                    "{input:?} in pieces of {chunk}"
                );
            }
        }
    }
}
