//! The string commands that read or change a value: `GET`, `GETDEL`,
//! `MGET`, `INCR`/`DECR` and their `BY` forms, `INCRBYFLOAT`, `APPEND`,
//! `STRLEN`, `GETRANGE`/`SUBSTR`, `SETRANGE`, and `LCS` (in `lcs`). Writing
//! a value with its deadline is `set`'s. Values stay slices of the reads
//! they arrived in; only a counter's new value and an over-segmented
//! `APPEND` result are built anew.

use std::time::Instant;

use bytes::Bytes;

use super::super::db::{Db, Encoding};
use super::super::protocol::MAX_BULK_LEN;
use super::super::reply::Reply;
use super::super::value::Value;
use super::float::{self, Ext, Parsed};
use super::{key, not_an_integer};

/// Segments a value may gather through `APPEND` before it is consolidated
/// into one (a counted copy), so a value cannot grow an unbounded iovec list.
pub const MAX_VALUE_SEGMENTS: usize = 64;

pub(super) fn get(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    match db.get_owned(key(&args[1]), now) {
        Some(e) => Reply::Bulk(e.value.clone()),
        None => Reply::Nil,
    }
}

pub(super) fn mget(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    Reply::Array(
        args[1..]
            .iter()
            .map(|k| match db.get(&key(k), now) {
                Some(e) => Reply::Bulk(e.value.clone()),
                None => Reply::Nil,
            })
            .collect(),
    )
}

pub(super) fn strlen(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    Reply::Integer(db.get(&key(&args[1]), now).map_or(0, |e| e.value.len()) as i64)
}

pub(super) fn incr(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    incr_by(db, &args[1], 1, now)
}

pub(super) fn decr(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    incr_by(db, &args[1], -1, now)
}

pub(super) fn incrby(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    match args[2].to_i64() {
        Some(n) => incr_by(db, &args[1], n, now),
        None => not_an_integer(),
    }
}

pub(super) fn decrby(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    match args[2].to_i64().map(i64::checked_neg) {
        Some(Some(n)) => incr_by(db, &args[1], n, now),
        Some(None) => Reply::err("decrement would overflow"),
        None => not_an_integer(),
    }
}

pub(super) fn append(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    append_value(db, &args[1], &args[2], now)
}

/// `GETDEL key`: the value (not copied), and the key is gone.
pub(super) fn getdel(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    let k = key(&args[1]);
    let Some(v) = db.get(&k, now).map(|e| e.value.clone()) else {
        return Reply::Nil;
    };
    db.remove(&k, now);
    Reply::Bulk(v)
}

/// `GETRANGE key start end` (and its old name `SUBSTR`): the bytes from
/// `start` to `end` inclusive, negative counting from the end, clamped as
/// Redis clamps them. A range inside one segment is a slice of it.
pub(super) fn getrange(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    let (Some(mut start), Some(mut end)) = (args[2].to_i64(), args[3].to_i64()) else {
        return not_an_integer();
    };
    let empty = || Reply::Bulk(Value::default());
    let Some(e) = db.get(&key(&args[1]), now) else {
        return empty();
    };
    let len = e.value.len() as i64;
    if start < 0 && end < 0 && start > end {
        return empty();
    }
    if start < 0 {
        start = start.saturating_add(len);
    }
    if end < 0 {
        end = end.saturating_add(len);
    }
    let start = start.max(0);
    let end = end.max(0).min(len - 1);
    if start > end || len == 0 {
        return empty();
    }
    Reply::Bulk(e.value.slice(start as usize..end as usize + 1))
}

/// `SETRANGE key offset value`: overwrites from `offset`, padding with
/// zero bytes; the new value is built anew (a counted copy).
pub(super) fn setrange(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    let Some(offset) = args[2].to_i64() else {
        return not_an_integer();
    };
    let Ok(offset) = usize::try_from(offset) else {
        return Reply::err("offset is out of range");
    };
    let more = &args[3];
    let k = key(&args[1]);
    let existing = db.get(&k, now).map(|e| (e.value.clone(), e.expires_at));
    if more.is_empty() {
        return Reply::Integer(existing.map_or(0, |(v, _)| v.len() as i64));
    }
    if offset
        .checked_add(more.len())
        .map_or(true, |n| n > MAX_BULK_LEN)
    {
        return too_long();
    }
    let (old, expires_at) = existing.unwrap_or_default();
    let mut out = Vec::with_capacity(old.len().max(offset + more.len()));
    out.extend_from_slice(&old.to_bytes());
    if out.len() < offset + more.len() {
        out.resize(offset + more.len(), 0);
    }
    out[offset..offset + more.len()].copy_from_slice(&more.to_bytes());
    weft_buf::record_copy(out.len());
    let len = out.len() as i64;
    db.set(k.clone(), Value::One(Bytes::from(out)), expires_at);
    if let Some(e) = db.get(&k, now) {
        e.encoding = Encoding::Raw;
    }
    Reply::Integer(len)
}

/// `INCRBYFLOAT key increment`: the sum as redis-server computes and
/// prints it (an x87 `long double`, see the `float` module), stored with
/// the key's deadline kept.
pub(super) fn incrbyfloat(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    let not_float = || Reply::err("value is not a valid float");
    let Some(by) = float::parse(&args[2].to_bytes()) else {
        return not_float();
    };
    let k = key(&args[1]);
    let (current, expires_at) = match db.get(&k, now) {
        None => (Parsed::Finite(Ext::ZERO), None),
        Some(e) => match float::parse(&e.value.to_bytes()) {
            Some(v) => (v, e.expires_at),
            None => return not_float(),
        },
    };
    let sum = match (current, by) {
        (Parsed::Finite(a), Parsed::Finite(b)) => float::add(a, b),
        _ => None,
    };
    let Some(sum) = sum else {
        return Reply::err("increment would produce NaN or Infinity");
    };
    let text = Bytes::from(float::format(sum));
    db.set(k.clone(), Value::One(text.clone()), expires_at);
    if let Some(e) = db.get(&k, now) {
        e.encoding = Encoding::Created;
    }
    Reply::Bulk(Value::One(text))
}

fn too_long() -> Reply {
    Reply::err("string exceeds maximum allowed size (proto-max-bulk-len)")
}

fn incr_by(db: &mut Db, key_arg: &Value, by: i64, now: Instant) -> Reply {
    let k = key(key_arg);
    let (current, expires_at) = match db.get(&k, now) {
        None => (0, None),
        Some(e) => match e.value.to_i64() {
            Some(n) => (n, e.expires_at),
            None => return not_an_integer(),
        },
    };
    let Some(next) = current.checked_add(by) else {
        return Reply::err("increment or decrement would overflow");
    };
    db.set(k, Value::One(Bytes::from(next.to_string())), expires_at);
    Reply::Integer(next)
}

fn append_value(db: &mut Db, key_arg: &Value, more: &Value, now: Instant) -> Reply {
    let k = key(key_arg);
    match db.get(&k, now) {
        Some(e) => {
            if e.value.len().saturating_add(more.len()) > MAX_BULK_LEN {
                return too_long();
            }
            e.value.append(more);
            e.encoding = Encoding::Raw;
            let len = e.value.len();
            if e.value.segments().len() > MAX_VALUE_SEGMENTS {
                e.value.consolidate();
            }
            db.touch(&k);
            Reply::Integer(len as i64)
        }
        None => {
            db.set(k, more.clone(), None);
            Reply::Integer(more.len() as i64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{bulk, run};
    use super::super::{execute, syntax_error};
    use super::*;

    #[test]
    fn counters_and_their_errors() {
        let mut db = Db::new();
        let t = Instant::now();
        assert_eq!(run(&mut db, t, "INCR n"), Reply::Integer(1));
        assert_eq!(run(&mut db, t, "INCRBY n 41"), Reply::Integer(42));
        assert_eq!(run(&mut db, t, "DECR n"), Reply::Integer(41));
        assert_eq!(run(&mut db, t, "DECRBY n 50"), Reply::Integer(-9));
        assert_eq!(run(&mut db, t, "GET n"), bulk("-9"));
        run(&mut db, t, "SET s abc");
        assert_eq!(run(&mut db, t, "INCR s"), not_an_integer());
        run(&mut db, t, "SET big 9223372036854775807");
        assert_eq!(
            run(&mut db, t, "INCR big"),
            Reply::err("increment or decrement would overflow")
        );
    }

    #[test]
    fn append_shares_segments_until_the_limit() {
        let mut db = Db::new();
        let t = Instant::now();
        let (_, copied) = weft_buf::measure_copies(|| {
            for i in 0..MAX_VALUE_SEGMENTS {
                assert_eq!(
                    run(&mut db, t, "APPEND k ab"),
                    Reply::Integer(2 * (i as i64 + 1))
                );
            }
        });
        assert_eq!(copied, 0);
        let (_, copied) = weft_buf::measure_copies(|| run(&mut db, t, "APPEND k ab"));
        assert_eq!(copied, 2 * (MAX_VALUE_SEGMENTS as u64 + 1));
        assert_eq!(run(&mut db, t, "STRLEN k"), Reply::Integer(130));
    }

    /// `SET k <value>` with the value as the very `Bytes` given, so a test
    /// can check that replies are slices of it.
    fn set_k(value: &Bytes) -> [Value; 3] {
        [
            Value::from(&b"SET"[..]),
            Value::from(&b"k"[..]),
            Value::from(value.clone()),
        ]
    }

    #[test]
    fn get_of_a_stored_value_is_not_copied() {
        let mut db = Db::new();
        let t = Instant::now();
        let value = Bytes::from_static(b"payload");
        let args = set_k(&value);
        let (reply, copied) = weft_buf::measure_copies(|| {
            execute(&mut db, &args, t);
            run(&mut db, t, "GET k")
        });
        assert_eq!(copied, 0);
        let Reply::Bulk(v) = reply else {
            panic!("GET is a bulk")
        };
        assert_eq!(v.segments()[0].as_ptr(), value.as_ptr());
    }

    #[test]
    fn getex_getdel_and_ranges() {
        let mut db = Db::new();
        let t = Instant::now();
        assert_eq!(run(&mut db, t, "GETEX k EX abc"), Reply::Nil);
        run(&mut db, t, "SET k Hello");
        assert_eq!(run(&mut db, t, "GETEX k EX 100"), bulk("Hello"));
        assert_eq!(run(&mut db, t, "TTL k"), Reply::Integer(100));
        assert_eq!(run(&mut db, t, "GETEX k PERSIST"), bulk("Hello"));
        assert_eq!(run(&mut db, t, "TTL k"), Reply::Integer(-1));
        assert_eq!(run(&mut db, t, "GETEX k PERSIST EX 1"), syntax_error());
        assert_eq!(run(&mut db, t, "GETEX k NX"), syntax_error());
        assert_eq!(run(&mut db, t, "GETRANGE k 1 3"), bulk("ell"));
        assert_eq!(run(&mut db, t, "GETRANGE k -3 -1"), bulk("llo"));
        assert_eq!(run(&mut db, t, "SUBSTR k 0 100"), bulk("Hello"));
        assert_eq!(run(&mut db, t, "GETRANGE k -1 -3"), bulk(""));
        assert_eq!(run(&mut db, t, "GETRANGE k 4 1"), bulk(""));
        assert_eq!(run(&mut db, t, "SETRANGE k 6 World"), Reply::Integer(11));
        assert_eq!(run(&mut db, t, "GET k"), bulk("Hello\0World"));
        assert_eq!(
            run(&mut db, t, "SETRANGE k -1 x"),
            Reply::err("offset is out of range")
        );
        assert_eq!(run(&mut db, t, "SETRANGE n 536870912 x"), too_long());
        assert_eq!(run(&mut db, t, "GETDEL k"), bulk("Hello\0World"));
        assert_eq!(run(&mut db, t, "GETDEL k"), Reply::Nil);
        assert_eq!(run(&mut db, t, "GETEX k EXAT 1"), Reply::Nil);
        run(&mut db, t, "SET k v");
        assert_eq!(run(&mut db, t, "GETEX k EXAT 1"), bulk("v"));
        assert_eq!(run(&mut db, t, "EXISTS k"), Reply::Integer(0));
    }

    #[test]
    fn getrange_and_getdel_answer_slices_of_the_stored_value() {
        let mut db = Db::new();
        let t = Instant::now();
        let value = Bytes::from_static(b"payload");
        let args = set_k(&value);
        let (replies, copied) = weft_buf::measure_copies(|| {
            execute(&mut db, &args, t);
            [
                run(&mut db, t, "GETRANGE k 3 5"),
                run(&mut db, t, "GETDEL k"),
            ]
        });
        assert_eq!(copied, 0);
        let [Reply::Bulk(range), Reply::Bulk(all)] = replies else {
            panic!("GETRANGE and GETDEL answer bulks")
        };
        assert_eq!(range, &b"loa"[..]);
        assert_eq!(range.segments()[0].as_ptr(), value[3..].as_ptr());
        assert_eq!(all.segments()[0].as_ptr(), value.as_ptr());
    }

    #[test]
    fn incrbyfloat_answers_redis_digits_and_keeps_the_deadline() {
        let mut db = Db::new();
        let t = Instant::now();
        assert_eq!(run(&mut db, t, "INCRBYFLOAT f 10.5"), bulk("10.5"));
        assert_eq!(run(&mut db, t, "INCRBYFLOAT f 0.1"), bulk("10.6"));
        assert_eq!(run(&mut db, t, "EXPIRE f 100"), Reply::Integer(1));
        assert_eq!(
            run(&mut db, t, "INCRBYFLOAT f 5.0e3"),
            bulk("5010.60000000000000009")
        );
        assert_eq!(run(&mut db, t, "TTL f"), Reply::Integer(100));
        assert_eq!(
            run(&mut db, t, "INCRBYFLOAT g 1000.1"),
            bulk("1000.09999999999999998")
        );
        assert_eq!(
            run(&mut db, t, "INCRBYFLOAT f abc"),
            Reply::err("value is not a valid float")
        );
        assert_eq!(
            run(&mut db, t, "INCRBYFLOAT f inf"),
            Reply::err("increment would produce NaN or Infinity")
        );
        run(&mut db, t, "SET s x");
        assert_eq!(
            run(&mut db, t, "INCRBYFLOAT s 1"),
            Reply::err("value is not a valid float")
        );
    }
}
