//! [`Value`]: an argument or a stored value, as one `Bytes` in the common
//! case (it arrived inside one read) and a boxed [`CompositeBuf`] when it
//! spans reads.
//!
//! A `CompositeBuf` keeps up to four segments inline (about 150 bytes), so
//! moving one by value through the parser, the argument vector, the key
//! space and the reply costs a `memmove` each time. A `Value` is the size of
//! a `Bytes` (32 bytes): the rare multi-segment value pays one box instead.

use bytes::Bytes;
use weft_buf::CompositeBuf;

use super::number::{parse_i64, parse_i64_slice};

/// A byte string that is one slice of a read, or several.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use weft_buf::CompositeBuf;
/// use weft_examples::resp::value::Value;
///
/// let one = Value::from(Bytes::from_static(b"hello"));
/// assert_eq!(one.len(), 5);
/// let two: CompositeBuf = [Bytes::from_static(b"he"), Bytes::from_static(b"llo")]
///     .into_iter()
///     .collect();
/// let two = Value::from(two);
/// assert_eq!(two.segments().len(), 2);
/// assert_eq!(one, two);
/// ```
#[derive(Clone, Debug)]
pub enum Value {
    /// One contiguous slice (the common case).
    One(Bytes),
    /// Two or more slices, boxed so the common case stays small.
    Many(Box<CompositeBuf>),
}

impl Default for Value {
    fn default() -> Value {
        Value::One(Bytes::new())
    }
}

impl Value {
    /// Length in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_examples::resp::value::Value::from(&b"abc"[..]).len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        match self {
            Value::One(b) => b.len(),
            Value::Many(c) => c.len(),
        }
    }

    /// Whether it holds no byte.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_examples::resp::value::Value::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The segments, in order (none for an empty value).
    ///
    /// # Examples
    ///
    /// ```
    /// let v = weft_examples::resp::value::Value::from(&b"ab"[..]);
    /// assert_eq!(v.segments(), &[bytes::Bytes::from_static(b"ab")]);
    /// ```
    pub fn segments(&self) -> &[Bytes] {
        match self {
            Value::One(b) if b.is_empty() => &[],
            Value::One(b) => std::slice::from_ref(b),
            Value::Many(c) => c.segments(),
        }
    }

    /// The value as one `Bytes`: free for a single slice, a counted copy
    /// otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = weft_examples::resp::value::Value::from(&b"ab"[..]);
    /// assert_eq!(v.to_bytes(), &b"ab"[..]);
    /// ```
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Value::One(b) => b.clone(),
            Value::Many(c) => c.to_bytes(),
        }
    }

    /// The value as a [`CompositeBuf`] (its segments shared, not copied).
    ///
    /// # Examples
    ///
    /// ```
    /// let v = weft_examples::resp::value::Value::from(&b"ab"[..]);
    /// assert_eq!(v.to_composite(), &b"ab"[..]);
    /// ```
    pub fn to_composite(&self) -> CompositeBuf {
        match self {
            Value::One(b) => CompositeBuf::from(b.clone()),
            Value::Many(c) => (**c).clone(),
        }
    }

    /// The value as a decimal `i64` (Redis' `string2ll` rules).
    ///
    /// # Examples
    ///
    /// ```
    /// let v = weft_examples::resp::value::Value::from(&b"-12"[..]);
    /// assert_eq!(v.to_i64(), Some(-12));
    /// ```
    pub fn to_i64(&self) -> Option<i64> {
        match self {
            Value::One(b) => parse_i64_slice(b),
            Value::Many(c) => parse_i64(c),
        }
    }

    /// Whether the value equals `lower` (given in lower case) ignoring ASCII
    /// case.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = weft_examples::resp::value::Value::from(&b"GeT"[..]);
    /// assert!(v.eq_ignore_case(b"get"));
    /// ```
    pub fn eq_ignore_case(&self, lower: &[u8]) -> bool {
        match self {
            Value::One(b) => b.eq_ignore_ascii_case(lower),
            Value::Many(c) => c.len() == lower.len() && c.to_bytes().eq_ignore_ascii_case(lower),
        }
    }

    /// Appends `more`'s segments (no payload byte copied).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::resp::value::Value;
    /// let mut v = Value::from(&b"ab"[..]);
    /// v.append(&Value::from(&b"cd"[..]));
    /// assert_eq!(v.to_bytes(), &b"abcd"[..]);
    /// assert_eq!(v.segments().len(), 2);
    /// ```
    pub fn append(&mut self, more: &Value) {
        if more.is_empty() {
            return;
        }
        if self.is_empty() {
            *self = more.clone();
            return;
        }
        let mut c = match std::mem::take(self) {
            Value::One(b) => Box::new(CompositeBuf::from(b)),
            Value::Many(c) => c,
        };
        for seg in more.segments() {
            c.push(seg.clone());
        }
        *self = Value::Many(c);
    }

    /// The bytes in `range` as a value sharing this one's segments (no
    /// payload byte copied). O(number of segments).
    ///
    /// # Panics
    ///
    /// When `range` is not within `0..len()`, like slicing a `Bytes`.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::resp::value::Value;
    /// let mut v = Value::from(&b"ab"[..]);
    /// v.append(&Value::from(&b"cd"[..]));
    /// assert_eq!(v.slice(1..3), &b"bc"[..]);
    /// assert_eq!(Value::from(&b"abc"[..]).slice(1..2), &b"b"[..]);
    /// ```
    pub fn slice(&self, range: std::ops::Range<usize>) -> Value {
        match self {
            Value::One(b) => Value::One(b.slice(range)),
            Value::Many(c) => Value::from(c.slice(range)),
        }
    }

    /// Joins the segments into one (a counted copy when there are several).
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::resp::value::Value;
    /// let mut v = Value::from(&b"ab"[..]);
    /// v.append(&Value::from(&b"cd"[..]));
    /// v.consolidate();
    /// assert_eq!(v.segments().len(), 1);
    /// ```
    pub fn consolidate(&mut self) {
        if let Value::Many(c) = self {
            *self = Value::One(c.to_bytes());
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::One(a), Value::One(b)) => a == b,
            _ => self.len() == other.len() && self.to_composite() == other.to_composite(),
        }
    }
}

impl Eq for Value {}

impl PartialEq<[u8]> for Value {
    fn eq(&self, other: &[u8]) -> bool {
        match self {
            Value::One(b) => b[..] == *other,
            Value::Many(c) => **c == *other,
        }
    }
}

impl PartialEq<&[u8]> for Value {
    fn eq(&self, other: &&[u8]) -> bool {
        *self == **other
    }
}

impl From<Bytes> for Value {
    fn from(b: Bytes) -> Value {
        Value::One(b)
    }
}

impl From<&'static [u8]> for Value {
    fn from(b: &'static [u8]) -> Value {
        Value::One(Bytes::from_static(b))
    }
}

impl From<CompositeBuf> for Value {
    fn from(c: CompositeBuf) -> Value {
        match c.segments() {
            [] => Value::One(Bytes::new()),
            [one] => Value::One(one.clone()),
            _ => Value::Many(Box::new(c)),
        }
    }
}
