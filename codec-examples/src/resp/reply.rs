//! RESP2 replies and their encoding as header segments plus value segments.
//!
//! ```text
//!  Bulk("hello")  -->  [ "$5\r\n" ][ hello (the stored Bytes) ][ "\r\n" ...next header ]
//! ```
//!
//! Small framing (`+OK\r\n`, `:1\r\n`, `$5\r\n`, the CRLF after a value) is
//! written into one scratch `BytesMut` shared by every reply of a batch; a
//! value is never copied, it becomes its own segment, so a batch of replies
//! is one [`CompositeBuf`] that the transport sends with one `writev`.

use bytes::{BufMut, Bytes, BytesMut};
use weft_buf::CompositeBuf;

use super::value::Value;

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// `+text\r\n`
    Simple(&'static str),
    /// `-text\r\n`; the text starts with the error kind (`ERR ...`).
    Error(String),
    /// `:n\r\n`
    Integer(i64),
    /// `$len\r\n<value>\r\n`, the value's segments sent as they are.
    Bulk(Value),
    /// `$-1\r\n`
    Nil,
    /// `*-1\r\n`, the null array (`EXEC` of a transaction a `WATCH`ed
    /// key's change aborted).
    NilArray,
    /// `*n\r\n` then each element.
    Array(Vec<Reply>),
    /// Key/value pairs: `%n\r\n` in RESP3, a flat array of `2n` in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// Text for people (`INFO`, `CLIENT LIST`): `=len\r\ntxt:...` in RESP3,
    /// a bulk string in RESP2.
    Verbatim(Value),
}

impl Reply {
    /// A bulk reply of static text.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::resp::reply::Reply;
    /// use weft_examples::resp::value::Value;
    /// assert_eq!(Reply::text("no"), Reply::Bulk(Value::from(&b"no"[..])));
    /// ```
    pub fn text(s: &'static str) -> Reply {
        Reply::Bulk(Value::One(Bytes::from_static(s.as_bytes())))
    }

    /// An `-ERR <msg>` reply.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::resp::reply::Reply;
    /// assert_eq!(Reply::err("syntax error"), Reply::Error("ERR syntax error".into()));
    /// ```
    pub fn err(msg: impl std::fmt::Display) -> Reply {
        Reply::Error(format!("ERR {msg}"))
    }
}

/// Encodes replies into one [`CompositeBuf`]: framing in a shared scratch
/// buffer, values as their own segments.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_examples::resp::reply::{Reply, ReplyWriter};
/// use weft_examples::resp::value::Value;
///
/// let value = Bytes::from_static(b"hello");
/// let mut w = ReplyWriter::new();
/// w.push(&Reply::Simple("OK"));
/// w.push(&Reply::Bulk(Value::from(value.clone())));
/// let out = w.finish();
/// assert_eq!(out, &b"+OK\r\n$5\r\nhello\r\n"[..]);
/// // the value went out as the caller's own bytes
/// assert_eq!(out.segments()[1].as_ptr(), value.as_ptr());
/// ```
#[derive(Debug, Default)]
pub struct ReplyWriter {
    out: CompositeBuf,
    scratch: BytesMut,
    /// Encode as RESP3 (after `HELLO 3`).
    resp3: bool,
}

/// Scratch capacity reserved at a time for framing bytes.
const SCRATCH_CHUNK: usize = 4096;

impl ReplyWriter {
    /// An empty writer.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_examples::resp::reply::ReplyWriter::new().is_empty());
    /// ```
    pub fn new() -> ReplyWriter {
        ReplyWriter::default()
    }

    /// Whether nothing has been written since the last [`finish`](Self::finish).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut w = weft_examples::resp::reply::ReplyWriter::new();
    /// w.push(&weft_examples::resp::reply::Reply::Integer(1));
    /// assert!(!w.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.out.is_empty() && self.scratch.is_empty()
    }

    /// Bytes written since the last [`finish`](Self::finish).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut w = weft_examples::resp::reply::ReplyWriter::new();
    /// w.push(&weft_examples::resp::reply::Reply::Simple("OK"));
    /// assert_eq!(w.pending_bytes(), 5);
    /// ```
    pub fn pending_bytes(&self) -> usize {
        self.out.len() + self.scratch.len()
    }

    /// Chooses RESP3 (`true`, after `HELLO 3`) or RESP2 for the replies
    /// pushed from now on.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::resp::reply::{Reply, ReplyWriter};
    /// let mut w = ReplyWriter::new();
    /// w.set_resp3(true);
    /// w.push(&Reply::Map(vec![(Reply::text("a"), Reply::Nil)]));
    /// assert_eq!(w.finish(), &b"%1\r\n$1\r\na\r\n_\r\n"[..]);
    /// ```
    pub fn set_resp3(&mut self, resp3: bool) {
        self.resp3 = resp3;
    }

    /// Appends the encoding of `reply`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::resp::reply::{Reply, ReplyWriter};
    /// let mut w = ReplyWriter::new();
    /// w.push(&Reply::Array(vec![Reply::Integer(-3), Reply::Nil, Reply::err("x")]));
    /// assert_eq!(w.finish(), &b"*3\r\n:-3\r\n$-1\r\n-ERR x\r\n"[..]);
    /// ```
    pub fn push(&mut self, reply: &Reply) {
        if self.scratch.capacity() - self.scratch.len() < 64 {
            self.scratch.reserve(SCRATCH_CHUNK);
        }
        match reply {
            Reply::Simple(s) => {
                self.scratch.put_u8(b'+');
                self.scratch.put_slice(s.as_bytes());
                self.scratch.put_slice(b"\r\n");
            }
            Reply::Error(s) => {
                self.scratch.put_u8(b'-');
                // An error text never carries a line break onto the wire.
                for &b in s.as_bytes() {
                    self.scratch
                        .put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
                }
                self.scratch.put_slice(b"\r\n");
            }
            Reply::Integer(n) => self.line(b':', *n),
            Reply::Nil | Reply::NilArray if self.resp3 => self.scratch.put_slice(b"_\r\n"),
            Reply::Nil => self.scratch.put_slice(b"$-1\r\n"),
            Reply::NilArray => self.scratch.put_slice(b"*-1\r\n"),
            Reply::Bulk(value) => self.bulk(b"", value),
            Reply::Verbatim(value) => self.bulk(b"txt:", value),
            Reply::Map(pairs) => {
                if self.resp3 {
                    self.line(b'%', pairs.len() as i64);
                } else {
                    self.line(b'*', 2 * pairs.len() as i64);
                }
                for (k, v) in pairs {
                    self.push(k);
                    self.push(v);
                }
            }
            Reply::Array(items) => {
                self.line(b'*', items.len() as i64);
                for item in items {
                    self.push(item);
                }
            }
        }
    }

    /// A bulk string (RESP3 verbatim `=` when `format` is given and the
    /// writer speaks RESP3), the value as its own segments.
    fn bulk(&mut self, format: &[u8], value: &Value) {
        let verbatim = self.resp3 && !format.is_empty();
        if verbatim {
            self.line(b'=', (format.len() + value.len()) as i64);
            self.scratch.put_slice(format);
        } else {
            self.line(b'$', value.len() as i64);
        }
        if !value.is_empty() {
            self.seal();
            for seg in value.segments() {
                self.out.push(seg.clone());
            }
        }
        self.scratch.put_slice(b"\r\n");
    }

    /// Writes `<kind><n>\r\n` (without `fmt`: this is on every reply).
    fn line(&mut self, kind: u8, n: i64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = n.unsigned_abs();
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.scratch.put_u8(kind);
        if n < 0 {
            self.scratch.put_u8(b'-');
        }
        self.scratch.put_slice(&digits[at..]);
        self.scratch.put_slice(b"\r\n");
    }

    /// Moves the framing written so far into the output as one segment.
    fn seal(&mut self) {
        if !self.scratch.is_empty() {
            self.out.push(self.scratch.split().freeze());
        }
    }

    /// Takes everything written so far, leaving the writer empty (its
    /// scratch capacity is kept for the next batch).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::resp::reply::{Reply, ReplyWriter};
    /// let mut w = ReplyWriter::new();
    /// w.push(&Reply::Simple("PONG"));
    /// assert_eq!(w.finish(), &b"+PONG\r\n"[..]);
    /// assert!(w.finish().is_empty());
    /// ```
    pub fn finish(&mut self) -> CompositeBuf {
        self.seal();
        std::mem::take(&mut self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_written_in_decimal_at_both_extremes() {
        let mut w = ReplyWriter::new();
        for n in [0, 7, -7, 10, -100, i64::MAX, i64::MIN] {
            w.push(&Reply::Integer(n));
        }
        assert_eq!(
            w.finish(),
            &b":0\r\n:7\r\n:-7\r\n:10\r\n:-100\r\n:9223372036854775807\r\n:-9223372036854775808\r\n"[..]
        );
    }

    #[test]
    fn many_small_replies_share_one_framing_segment() {
        let mut w = ReplyWriter::new();
        for i in 0..100 {
            w.push(&Reply::Integer(i));
        }
        let out = w.finish();
        assert_eq!(out.segments().len(), 1);
    }

    #[test]
    fn a_bulk_reply_is_header_value_and_trailer_without_copies() {
        let value: CompositeBuf = [Bytes::from_static(b"ab"), Bytes::from_static(b"cd")]
            .into_iter()
            .collect();
        let (out, copied) = weft_buf::measure_copies(|| {
            let mut w = ReplyWriter::new();
            w.push(&Reply::Bulk(Value::from(value.clone())));
            w.push(&Reply::Bulk(Value::default()));
            w.finish()
        });
        assert_eq!(copied, 0);
        assert_eq!(out, &b"$4\r\nabcd\r\n$0\r\n\r\n"[..]);
        assert_eq!(out.segments().len(), 4);
    }
}
