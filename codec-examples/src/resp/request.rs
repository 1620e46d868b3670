//! [`Request`]: one parsed RESP request, small enough to travel through
//! the pipeline inline (no allocation per request), with its arguments as
//! slices of the reads.
//!
//! ```text
//!  one read:  ... *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n ...
//!                 └──────────────── frame (one Bytes) ───────────┘
//!  spans:               [8,3)       [17,1)     [22,5)   --> SET, k, hello
//! ```
//!
//! A request that lies inside one read and has at most
//! [`MAX_SLICED_ARGS`] arguments, none of them quoted, is its frame (a
//! slice of the read) plus the offsets of its arguments: 80 bytes in all,
//! so a [`weft_pipeline::Value`] keeps it without a heap allocation. Any
//! other request (it spans reads, has more arguments, or an inline
//! argument was unquoted into new bytes) holds its arguments in a vector
//! (one allocation), each still a slice of the reads it arrived in.

use std::fmt;

use bytes::Bytes;

use super::inline::{ends_token, is_space};
use super::number::parse_i64_slice;
use super::protocol::{MAX_BULK_LEN, MAX_INLINE_LEN, MAX_REQUEST_BYTES};
use super::value::Value;

/// Most arguments a request keeps as offsets into its frame (`SET k v EX
/// 10` has five); a request with more holds a vector of them.
pub const MAX_SLICED_ARGS: usize = 5;

/// One argument's place in the frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn range(self) -> std::ops::Range<usize> {
        let start = self.start as usize;
        start..start + self.len as usize
    }
}

#[derive(Clone)]
enum Repr {
    /// Inside one read: the request's bytes and where its arguments are.
    Sliced {
        frame: Bytes,
        spans: [Span; MAX_SLICED_ARGS],
        n: u8,
    },
    /// Everything else: the arguments themselves.
    Spilled(Vec<Value>),
}

/// One request: the command name and its arguments, never empty (the
/// parser skips empty requests).
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_buf::CompositeBuf;
/// use weft_examples::resp::parser::RequestParser;
///
/// let read = Bytes::from_static(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
/// let req = RequestParser::new().decode(&mut CompositeBuf::from(read)).unwrap().unwrap();
/// assert_eq!(req.len(), 2);
/// assert!(req.is_sliced());
/// assert_eq!(req.arg(1).unwrap(), &b"k"[..]);
/// ```
#[derive(Clone)]
pub struct Request {
    repr: Repr,
}

// A request travels between the decoder and the handler inline in a
// message (no allocation); checked here so a layout change cannot undo it.
const _: () = assert!(weft_pipeline::Value::fits_inline::<Request>());

impl Request {
    /// A request of the given arguments (the form of a request that spans
    /// reads: one allocation for the vector).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::resp::{request::Request, value::Value};
    /// let req = Request::from_args(vec![Value::from(&b"PING"[..])]);
    /// assert_eq!(req.len(), 1);
    /// assert!(!req.is_sliced());
    /// ```
    pub fn from_args(args: Vec<Value>) -> Request {
        Request {
            repr: Repr::Spilled(args),
        }
    }

    /// Number of arguments, the command name included.
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Sliced { n, .. } => usize::from(*n),
            Repr::Spilled(args) => args.len(),
        }
    }

    /// Whether there is no argument (never, for a parsed request).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_examples::resp::request::Request::from_args(Vec::new()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the request is one slice of a read plus offsets (the form
    /// that costs no allocation).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn is_sliced(&self) -> bool {
        matches!(self.repr, Repr::Sliced { .. })
    }

    /// Argument `i` (0 is the command name), a slice of the reads. O(1).
    ///
    /// # Examples
    ///
    /// See the type-level example.
    pub fn arg(&self, i: usize) -> Option<Value> {
        match &self.repr {
            Repr::Sliced { frame, spans, n } => spans[..usize::from(*n)]
                .get(i)
                .map(|s| Value::One(frame.slice(s.range()))),
            Repr::Spilled(args) => args.get(i).cloned(),
        }
    }

    /// The arguments, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use weft_buf::CompositeBuf;
    /// use weft_examples::resp::parser::RequestParser;
    ///
    /// let mut buf = CompositeBuf::from(Bytes::from_static(b"SET k v\r\n"));
    /// let req = RequestParser::new().decode(&mut buf).unwrap().unwrap();
    /// let args: Vec<_> = req.args().map(|a| a.to_bytes()).collect();
    /// assert_eq!(args, [&b"SET"[..], b"k", b"v"]);
    /// ```
    pub fn args(&self) -> impl Iterator<Item = Value> + '_ {
        (0..self.len()).filter_map(move |i| self.arg(i))
    }

    /// Calls `f` with the arguments as a slice: a sliced request's are put
    /// in `scratch` (cleared again afterwards, so its capacity is reused
    /// and no allocation is made once it has grown); a spilled request's
    /// vector is lent as it is.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use weft_buf::CompositeBuf;
    /// use weft_examples::resp::parser::RequestParser;
    ///
    /// let mut buf = CompositeBuf::from(Bytes::from_static(b"ECHO hi\r\n"));
    /// let req = RequestParser::new().decode(&mut buf).unwrap().unwrap();
    /// let mut scratch = Vec::new();
    /// assert_eq!(req.with_args(&mut scratch, |args| args.len()), 2);
    /// assert!(scratch.is_empty());
    /// ```
    pub fn with_args<R>(&self, scratch: &mut Vec<Value>, f: impl FnOnce(&[Value]) -> R) -> R {
        match &self.repr {
            Repr::Sliced { frame, spans, n } => {
                scratch.clear();
                scratch.extend(
                    spans[..usize::from(*n)]
                        .iter()
                        .map(|s| Value::One(frame.slice(s.range()))),
                );
                let r = f(scratch);
                scratch.clear();
                r
            }
            Repr::Spilled(args) => f(args),
        }
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for i in 0..self.len() {
            if let Some(a) = self.arg(i) {
                list.entry(&a.to_bytes());
            }
        }
        list.finish()
    }
}

/// What [`scan`] found at the front of one read.
pub(crate) enum Scan {
    /// A complete request of the first `used` bytes.
    Request { used: usize, request: PendingSliced },
    /// An empty request (`*0`, `*-1`, a blank inline line) of `used` bytes:
    /// skipped, as Redis does.
    Skip(usize),
    /// Anything else (incomplete, an error, too many arguments, quotes):
    /// the general parser decides, from the same place.
    Slow,
}

/// A sliced request's offsets, before its frame is cut from the buffer.
pub(crate) struct PendingSliced {
    spans: [Span; MAX_SLICED_ARGS],
    n: u8,
}

impl PendingSliced {
    /// The request, given its frame (the `used` bytes [`scan`] reported).
    pub(crate) fn with_frame(self, frame: Bytes) -> Request {
        Request {
            repr: Repr::Sliced {
                frame,
                spans: self.spans,
                n: self.n,
            },
        }
    }

    fn push(&mut self, start: usize, len: usize) -> Option<()> {
        let slot = self.spans.get_mut(usize::from(self.n))?;
        *slot = Span {
            start: u32::try_from(start).ok()?,
            len: u32::try_from(len).ok()?,
        };
        self.n += 1;
        Some(())
    }
}

/// Looks for one whole request at the front of `chunk` (the first segment
/// of the cumulation) without consuming anything, following exactly the
/// rules of the general parser, and gives up ([`Scan::Slow`]) on anything
/// it does not handle, so both always agree.
pub(crate) fn scan(chunk: &[u8]) -> Scan {
    let mut req = PendingSliced {
        spans: [Span::default(); MAX_SLICED_ARGS],
        n: 0,
    };
    let found = match chunk.first() {
        None => return Scan::Slow,
        Some(b'*') => scan_multibulk(chunk, &mut req),
        Some(_) => scan_inline(chunk, &mut req),
    };
    match found {
        Some(used) if req.n == 0 => Scan::Skip(used),
        Some(used) => Scan::Request { used, request: req },
        None => Scan::Slow,
    }
}

/// A `*n` / `$n` line at `at`: its number, if it is one, and where the next
/// line starts. The line ends at the first `\r`, and one more byte (not
/// looked at, as Redis does) completes it. Only the short lines a valid
/// header has are read here.
fn header(chunk: &[u8], at: usize) -> Option<(Option<i64>, usize)> {
    let rest = chunk.get(at..)?;
    let near = &rest[..rest.len().min(24)];
    let cr = near.iter().position(|&b| b == b'\r')?;
    if cr + 2 > rest.len() {
        return None;
    }
    Some((parse_i64_slice(&rest[1..cr]), at + cr + 2))
}

fn scan_multibulk(chunk: &[u8], req: &mut PendingSliced) -> Option<usize> {
    let (count, mut at) = header(chunk, 0)?;
    let count = count?;
    if count <= 0 {
        return Some(at);
    }
    if count > MAX_SLICED_ARGS as i64 {
        return None;
    }
    let mut held: usize = 0;
    for _ in 0..count {
        if chunk.get(at) != Some(&b'$') {
            return None;
        }
        let (len, body) = header(chunk, at)?;
        let len = usize::try_from(len?).ok().filter(|&n| n <= MAX_BULK_LEN)?;
        held = held.checked_add(len).filter(|&h| h <= MAX_REQUEST_BYTES)?;
        // The body and the two bytes after it (not looked at, as Redis does).
        let end = body.checked_add(len)?.checked_add(2)?;
        if end > chunk.len() {
            return None;
        }
        req.push(body, len)?;
        at = end;
    }
    Some(at)
}

fn scan_inline(chunk: &[u8], req: &mut PendingSliced) -> Option<usize> {
    let near = &chunk[..chunk.len().min(MAX_INLINE_LEN + 2)];
    let at = near.iter().position(|&b| b == b'\n')?;
    if at > MAX_INLINE_LEN {
        return None;
    }
    let end = if at > 0 && near[at - 1] == b'\r' {
        at - 1
    } else {
        at
    };
    let line = &near[..end];
    if line.iter().any(|&b| b == b'"' || b == b'\'') {
        return None;
    }
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(at + 1);
        }
        let start = p;
        while p < line.len() && !ends_token(line[p]) {
            p += 1;
        }
        req.push(start, p - start)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::decoder::RespFrame;

    #[test]
    fn a_request_and_a_frame_travel_inline() {
        assert!(weft_pipeline::Value::fits_inline::<Request>());
        assert!(weft_pipeline::Value::fits_inline::<RespFrame>());
    }

    fn scanned(input: &[u8]) -> Option<(usize, Vec<Vec<u8>>)> {
        match scan(input) {
            Scan::Request { used, request } => {
                let req = request.with_frame(Bytes::copy_from_slice(&input[..used]));
                Some((used, req.args().map(|a| a.to_bytes().to_vec()).collect()))
            }
            _ => None,
        }
    }

    #[test]
    fn the_common_forms_are_scanned_in_one_read() {
        assert_eq!(
            scanned(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nPING\r\n"),
            Some((31, vec![b"SET".to_vec(), b"k".to_vec(), b"hello".to_vec()]))
        );
        assert_eq!(
            scanned(b"  get\x0bx  k\r\n"),
            Some((12, vec![b"get\x0bx".to_vec(), b"k".to_vec()]))
        );
        assert_eq!(scanned(b"PING\n"), Some((5, vec![b"PING".to_vec()])));
    }

    #[test]
    fn anything_unusual_is_left_to_the_general_parser() {
        for input in [
            &b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhel"[..],
            b"*6\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n",
            b"a b c d e f\r\n",
            b"SET k \"v\"\r\n",
            b"*1\r\n$-1\r\n",
            b"*1\r\n+PING\r\n",
            b"PING",
            b"",
        ] {
            assert!(matches!(scan(input), Scan::Slow), "{input:?}");
        }
        assert!(matches!(scan(b"*0\r\nPING\r\n"), Scan::Skip(4)));
        assert!(matches!(scan(b" \r\nPING\r\n"), Scan::Skip(3)));
    }
}
