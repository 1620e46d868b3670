//! The string commands: `GET`, `SET` and its variants (`SETNX`, `SETEX`,
//! `PSETEX`, `MSET`, `MSETNX`), `GETEX`, `GETDEL`, `MGET`, `INCR`/`DECR`
//! and their `BY` forms, `INCRBYFLOAT`, `APPEND`, `STRLEN`, `GETRANGE`,
//! `SETRANGE`. Values stay slices of the reads
//! they arrived in; only a counter's new value and an over-segmented
//! `APPEND` result are built anew.

use std::time::Instant;

use bytes::Bytes;

use super::super::db::{Db, Encoding};
use super::super::protocol::MAX_BULK_LEN;
use super::super::reply::Reply;
use super::super::value::Value;
use super::expiry::{instant_of, invalid_expire_time, relative_deadline_ms, unix_ms};
use super::float::{self, Ext, Parsed};
use super::{key, not_an_integer, syntax_error, wrong_arity};

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

pub(super) fn mset(db: &mut Db, args: &[Value], _now: Instant) -> Reply {
    if args.len() % 2 == 0 {
        return wrong_arity("mset");
    }
    for pair in args[1..].chunks_exact(2) {
        db.set(key(&pair[0]), pair[1].clone(), None);
    }
    Reply::Simple("OK")
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

/// Which option gave the expiry of `SET` or `GETEX`; Redis allows the same
/// one again (the last wins) but not two different ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpiryOption {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// The options of `SET` (from argument 3) or `GETEX` (from argument 2),
/// accepted in the combinations Redis 7 accepts.
#[derive(Debug, Default)]
struct Options<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expiry: Option<(ExpiryOption, &'a Value)>,
}

impl<'a> Options<'a> {
    /// Parses `args[from..]`; `for_set` selects `SET`'s options, otherwise
    /// `GETEX`'s. Only the shape is checked here: the expiry is read as a
    /// number later, as Redis does.
    fn parse(args: &'a [Value], from: usize, for_set: bool) -> Result<Options<'a>, Reply> {
        let mut o = Options::default();
        let mut i = from;
        while i < args.len() {
            let opt = &args[i];
            let next = args.get(i + 1);
            let kind = [
                (&b"ex"[..], ExpiryOption::Ex),
                (b"px", ExpiryOption::Px),
                (b"exat", ExpiryOption::ExAt),
                (b"pxat", ExpiryOption::PxAt),
            ]
            .into_iter()
            .find(|(name, _)| opt.eq_ignore_case(name))
            .map(|(_, k)| k);
            if for_set && opt.eq_ignore_case(b"nx") && !o.xx {
                o.nx = true;
            } else if for_set && opt.eq_ignore_case(b"xx") && !o.nx {
                o.xx = true;
            } else if for_set && opt.eq_ignore_case(b"get") {
                o.get = true;
            } else if for_set && opt.eq_ignore_case(b"keepttl") && o.expiry.is_none() {
                o.keep_ttl = true;
            } else if !for_set && opt.eq_ignore_case(b"persist") && o.expiry.is_none() {
                o.persist = true;
            } else if let (Some(kind), Some(n)) = (kind, next) {
                let same = o.expiry.map_or(true, |(k, _)| k == kind);
                if o.keep_ttl || o.persist || !same {
                    return Err(syntax_error());
                }
                o.expiry = Some((kind, n));
                i += 1;
            } else {
                return Err(syntax_error());
            }
            i += 1;
        }
        Ok(o)
    }

    /// The deadline the expiry option asks for, checked as Redis'
    /// `getExpireMillisecondsOrReply` checks it (`name` is the command in
    /// the error): not a number, not positive, or a Unix-ms time past
    /// `i64` is an error.
    fn deadline(&self, name: &str, now: Instant) -> Result<Option<Instant>, Reply> {
        let Some((kind, n)) = self.expiry else {
            return Ok(None);
        };
        let n = n.to_i64().ok_or_else(not_an_integer)?;
        let seconds = matches!(kind, ExpiryOption::Ex | ExpiryOption::ExAt);
        let base = match kind {
            ExpiryOption::Ex | ExpiryOption::Px => unix_ms(now),
            ExpiryOption::ExAt | ExpiryOption::PxAt => 0,
        };
        let unit = if seconds { 1000 } else { 1 };
        match relative_deadline_ms(n, unit, base) {
            Some(when) if n > 0 => Ok(Some(instant_of(now, when))),
            _ => Err(invalid_expire_time(name)),
        }
    }
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]`,
/// parsed as Redis 7 parses it: every option is checked before the expiry
/// is read as a number, and a repeated `EX`/`PX` replaces the earlier one.
pub(super) fn set(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    let o = match Options::parse(args, 3, true) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let mut expires_at = match o.deadline("set", now) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let k = key(&args[1]);
    if !(o.nx || o.xx || o.get || o.keep_ttl) {
        // The common SET: what was there does not matter (one hash, not two).
        db.set(k, args[2].clone(), expires_at);
        return Reply::Simple("OK");
    }
    let old = db.get(&k, now).map(|e| (e.value.clone(), e.expires_at));
    if (o.nx && old.is_some()) || (o.xx && old.is_none()) {
        return if o.get {
            old.map_or(Reply::Nil, |(v, _)| Reply::Bulk(v))
        } else {
            Reply::Nil
        };
    }
    if o.keep_ttl {
        expires_at = old.as_ref().and_then(|(_, t)| *t);
    }
    db.set(k, args[2].clone(), expires_at);
    if o.get {
        old.map_or(Reply::Nil, |(v, _)| Reply::Bulk(v))
    } else {
        Reply::Simple("OK")
    }
}

/// `SETNX key value`: 1 when the key was set, 0 when it existed.
pub(super) fn setnx(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    let k = key(&args[1]);
    if db.get(&k, now).is_some() {
        return Reply::Integer(0);
    }
    db.set(k, args[2].clone(), None);
    Reply::Integer(1)
}

/// `SETEX key seconds value`.
pub(super) fn setex(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    set_with_expiry(db, args, ExpiryOption::Ex, "setex", now)
}

/// `PSETEX key milliseconds value`.
pub(super) fn psetex(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    set_with_expiry(db, args, ExpiryOption::Px, "psetex", now)
}

fn set_with_expiry(
    db: &mut Db,
    args: &[Value],
    kind: ExpiryOption,
    name: &str,
    now: Instant,
) -> Reply {
    let o = Options {
        expiry: Some((kind, &args[2])),
        ..Options::default()
    };
    match o.deadline(name, now) {
        Ok(t) => {
            db.set(key(&args[1]), args[3].clone(), t);
            Reply::Simple("OK")
        }
        Err(e) => e,
    }
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

/// `GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]`: the value, and the
/// deadline changed. A missing key answers nil before the time is checked,
/// as in Redis.
pub(super) fn getex(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    let o = match Options::parse(args, 2, false) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let k = key(&args[1]);
    let Some(v) = db.get(&k, now).map(|e| e.value.clone()) else {
        return Reply::Nil;
    };
    match o.deadline("getex", now) {
        Err(e) => return e,
        Ok(Some(t)) if t <= now => {
            db.remove(&k, now);
        }
        Ok(Some(t)) => {
            db.set_expiry(&k, Some(t), now);
        }
        Ok(None) if o.persist => {
            db.set_expiry(&k, None, now);
        }
        Ok(None) => {}
    }
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

/// `MSETNX key value [key value ...]`: sets them all only when none exists.
pub(super) fn msetnx(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    if args.len() % 2 == 0 {
        return wrong_arity("msetnx");
    }
    let pairs = args[1..].chunks_exact(2);
    if pairs.clone().any(|p| db.get(&key(&p[0]), now).is_some()) {
        return Reply::Integer(0);
    }
    for pair in pairs {
        db.set(key(&pair[0]), pair[1].clone(), None);
    }
    Reply::Integer(1)
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
    use std::time::Duration;

    use super::super::execute;
    use super::super::test_support::{bulk, run};
    use super::*;

    #[test]
    fn set_options_nx_xx_get_and_expiry() {
        let mut db = Db::new();
        let t = Instant::now();
        assert_eq!(run(&mut db, t, "SET k v XX"), Reply::Nil);
        assert_eq!(run(&mut db, t, "SET k v NX"), Reply::Simple("OK"));
        assert_eq!(run(&mut db, t, "SET k w NX"), Reply::Nil);
        assert_eq!(run(&mut db, t, "SET k w XX GET"), bulk("v"));
        assert_eq!(run(&mut db, t, "SET k x EX 10"), Reply::Simple("OK"));
        assert_eq!(run(&mut db, t, "TTL k"), Reply::Integer(10));
        assert_eq!(run(&mut db, t, "PTTL k"), Reply::Integer(10_000));
        assert_eq!(
            run(&mut db, t + Duration::from_secs(10), "GET k"),
            Reply::Nil
        );
        assert_eq!(run(&mut db, t, "SET k x PX 1500"), Reply::Simple("OK"));
        assert_eq!(run(&mut db, t, "TTL k"), Reply::Integer(2));
        assert_eq!(
            run(&mut db, t, "SET k x EX 0"),
            Reply::err("invalid expire time in 'set' command")
        );
        assert_eq!(
            run(&mut db, t, "SET k x EX 9223372036854775807"),
            Reply::err("invalid expire time in 'set' command")
        );
        assert_eq!(run(&mut db, t, "SET k x NX XX"), Reply::err("syntax error"));
        assert_eq!(run(&mut db, t, "SET k x EX"), Reply::err("syntax error"));
        assert_eq!(run(&mut db, t, "SET k x EX ten"), not_an_integer());
    }

    #[test]
    fn set_takes_a_repeated_expiry_option_and_the_last_wins() {
        let mut db = Db::new();
        let t = Instant::now();
        assert_eq!(run(&mut db, t, "SET k v EX 10 EX 20"), Reply::Simple("OK"));
        assert_eq!(run(&mut db, t, "TTL k"), Reply::Integer(20));
        assert_eq!(
            run(&mut db, t, "SET k v PX 10 PX 3000"),
            Reply::Simple("OK")
        );
        assert_eq!(run(&mut db, t, "PTTL k"), Reply::Integer(3000));
        assert_eq!(
            run(&mut db, t, "SET k v EX 10 PX 10"),
            Reply::err("syntax error")
        );
        assert_eq!(
            run(&mut db, t, "SET k v EX 10 KEEPTTL"),
            Reply::err("syntax error")
        );
        // Options are all checked before the expiry is read as a number.
        assert_eq!(
            run(&mut db, t, "SET k v EX ten FOO"),
            Reply::err("syntax error")
        );
    }

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

    #[test]
    fn get_of_a_stored_value_is_not_copied() {
        let mut db = Db::new();
        let t = Instant::now();
        let value = Bytes::from_static(b"payload");
        let args = [
            Value::from(&b"SET"[..]),
            Value::from(&b"k"[..]),
            Value::from(value.clone()),
        ];
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
    fn set_family_with_expiry_and_conditions() {
        let mut db = Db::new();
        let t = Instant::now();
        assert_eq!(run(&mut db, t, "SETNX k v"), Reply::Integer(1));
        assert_eq!(run(&mut db, t, "SETNX k w"), Reply::Integer(0));
        assert_eq!(run(&mut db, t, "SETEX k 10 w"), Reply::Simple("OK"));
        assert_eq!(run(&mut db, t, "TTL k"), Reply::Integer(10));
        assert_eq!(
            run(&mut db, t, "SETEX k 0 w"),
            Reply::err("invalid expire time in 'setex' command")
        );
        assert_eq!(run(&mut db, t, "PSETEX k 1500 x"), Reply::Simple("OK"));
        assert_eq!(run(&mut db, t, "PTTL k"), Reply::Integer(1500));
        assert_eq!(run(&mut db, t, "MSETNX a 1 k 2"), Reply::Integer(0));
        assert_eq!(run(&mut db, t, "GET a"), Reply::Nil);
        assert_eq!(run(&mut db, t, "MSETNX a 1 b 2"), Reply::Integer(1));
        assert_eq!(run(&mut db, t, "SET k v EXAT 1"), Reply::Simple("OK"));
        assert_eq!(run(&mut db, t, "GET k"), Reply::Nil);
        assert_eq!(
            run(&mut db, t, "SET k v EXAT 0"),
            Reply::err("invalid expire time in 'set' command")
        );
        assert_eq!(run(&mut db, t, "SET k v EXAT 9 PXAT 9"), syntax_error());
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
        let args = [
            Value::from(&b"SET"[..]),
            Value::from(&b"k"[..]),
            Value::from(value.clone()),
        ];
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
