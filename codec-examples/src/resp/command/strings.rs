//! The string commands: `GET`, `SET`, `MGET`, `MSET`, `INCR`/`DECR` and
//! their `BY` forms, `APPEND`, `STRLEN`. Values stay slices of the reads
//! they arrived in; only a counter's new value and an over-segmented
//! `APPEND` result are built anew.

use std::time::Instant;

use bytes::Bytes;

use super::super::db::Db;
use super::super::protocol::MAX_BULK_LEN;
use super::super::reply::Reply;
use super::super::value::Value;
use super::expiry::{instant_of, invalid_expire_time, relative_deadline_ms, unix_ms};
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

/// Which `SET` option gave the expiry; Redis allows the same one again
/// (the last wins) but not two different ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpiryOption {
    Ex,
    Px,
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|KEEPTTL]`, parsed as Redis 7
/// parses it: every option is checked before the expiry is read as a
/// number, and a repeated `EX`/`PX` replaces the earlier one.
pub(super) fn set(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    let (mut nx, mut xx, mut get, mut keep_ttl) = (false, false, false, false);
    let mut expiry: Option<(ExpiryOption, &Value)> = None;
    let mut i = 3;
    while i < args.len() {
        let opt = &args[i];
        let next = args.get(i + 1);
        let may_expire = |kind| !keep_ttl && expiry.map_or(true, |(k, _)| k == kind);
        if opt.eq_ignore_case(b"nx") && !xx {
            nx = true;
        } else if opt.eq_ignore_case(b"xx") && !nx {
            xx = true;
        } else if opt.eq_ignore_case(b"get") {
            get = true;
        } else if opt.eq_ignore_case(b"keepttl") && expiry.is_none() {
            keep_ttl = true;
        } else if let (true, Some(n)) = (
            opt.eq_ignore_case(b"ex") && may_expire(ExpiryOption::Ex),
            next,
        ) {
            expiry = Some((ExpiryOption::Ex, n));
            i += 1;
        } else if let (true, Some(n)) = (
            opt.eq_ignore_case(b"px") && may_expire(ExpiryOption::Px),
            next,
        ) {
            expiry = Some((ExpiryOption::Px, n));
            i += 1;
        } else {
            return syntax_error();
        }
        i += 1;
    }
    let mut expires_at = match expiry {
        None => None,
        Some((kind, n)) => {
            let Some(n) = n.to_i64() else {
                return not_an_integer();
            };
            let unit = if kind == ExpiryOption::Ex { 1000 } else { 1 };
            match relative_deadline_ms(n, unit, unix_ms(now)) {
                Some(when) if n > 0 => Some(instant_of(now, when)),
                _ => return invalid_expire_time("set"),
            }
        }
    };
    let k = key(&args[1]);
    if !(nx || xx || get || keep_ttl) {
        // The common SET: what was there does not matter (one hash, not two).
        db.set(k, args[2].clone(), expires_at);
        return Reply::Simple("OK");
    }
    let old = db.get(&k, now).map(|e| (e.value.clone(), e.expires_at));
    if (nx && old.is_some()) || (xx && old.is_none()) {
        return if get {
            old.map_or(Reply::Nil, |(v, _)| Reply::Bulk(v))
        } else {
            Reply::Nil
        };
    }
    if keep_ttl {
        expires_at = old.as_ref().and_then(|(_, t)| *t);
    }
    db.set(k, args[2].clone(), expires_at);
    if get {
        old.map_or(Reply::Nil, |(v, _)| Reply::Bulk(v))
    } else {
        Reply::Simple("OK")
    }
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
                return Reply::err("string exceeds maximum allowed size (proto-max-bulk-len)");
            }
            e.value.append(more);
            if e.value.segments().len() > MAX_VALUE_SEGMENTS {
                e.value.consolidate();
            }
            Reply::Integer(e.value.len() as i64)
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
}
