//! Commands on keys whatever their value: `DEL`/`UNLINK`, `EXISTS`/`TOUCH`,
//! `TYPE`, `RENAME`, `RENAMENX`, `COPY`, `KEYS`, `SCAN`, `RANDOMKEY`,
//! `DBSIZE`, `FLUSHALL`, `FLUSHDB`.

use std::hash::{BuildHasher, Hasher};
use std::time::Instant;

use bytes::Bytes;

use super::super::db::{Db, Encoding};
use super::super::reply::Reply;
use super::super::value::Value;
use super::glob;
use super::{key, not_an_integer, syntax_error};

pub(super) fn del(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    Reply::Integer(args[1..].iter().filter(|k| db.remove(&key(k), now)).count() as i64)
}

pub(super) fn exists(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    Reply::Integer(
        args[1..]
            .iter()
            .filter(|k| db.get(&key(k), now).is_some())
            .count() as i64,
    )
}

pub(super) fn dbsize(db: &mut Db, _args: &[Value], _now: Instant) -> Reply {
    Reply::Integer(db.len() as i64)
}

/// `FLUSHALL`/`FLUSHDB [SYNC|ASYNC]`: both flush at once; anything more is
/// a syntax error.
pub(super) fn flush(db: &mut Db, args: &[Value], _now: Instant) -> Reply {
    match args {
        [_] => {}
        [_, m] if m.eq_ignore_case(b"sync") || m.eq_ignore_case(b"async") => {}
        _ => return syntax_error(),
    }
    db.clear();
    Reply::Simple("OK")
}

/// `TYPE key`: `string` (the only type stored) or `none`.
pub(super) fn type_of(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    match db.get(&key(&args[1]), now) {
        Some(_) => Reply::Simple("string"),
        None => Reply::Simple("none"),
    }
}

/// `RENAME key newkey`.
pub(super) fn rename(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    rename_to(db, args, false, now)
}

/// `RENAMENX key newkey`: 0 when `newkey` exists.
pub(super) fn renamenx(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    rename_to(db, args, true, now)
}

/// Redis' `renameGenericCommand`: a missing source is an error even when
/// both names are the same; the deadline moves with the value.
fn rename_to(db: &mut Db, args: &[Value], nx: bool, now: Instant) -> Reply {
    let (from, to) = (key(&args[1]), key(&args[2]));
    let Some(entry) = db.get(&from, now).cloned() else {
        return Reply::err("no such key");
    };
    let done = if nx {
        Reply::Integer(1)
    } else {
        Reply::Simple("OK")
    };
    if from == to {
        return if nx { Reply::Integer(0) } else { done };
    }
    if nx && db.get(&to, now).is_some() {
        return Reply::Integer(0);
    }
    db.remove(&from, now);
    db.set(to.clone(), entry.value, entry.expires_at);
    keep_encoding(db, &to, entry.encoding, now);
    done
}

/// `COPY source destination [DB 0] [REPLACE]`. Only database 0 exists.
pub(super) fn copy(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if args[i].eq_ignore_case(b"replace") {
            replace = true;
        } else if args[i].eq_ignore_case(b"db") && i + 1 < args.len() {
            i += 1;
            // Redis reads the index as a C int (`getIntFromObjectOrReply`).
            match args[i].to_i64() {
                Some(0) => {}
                Some(n) if i32::try_from(n).is_ok() => {
                    return Reply::err("DB index is out of range")
                }
                Some(_) => {
                    return Reply::err(
                        "value is out of range, value must between -2147483648 and 2147483647",
                    )
                }
                None => return not_an_integer(),
            }
        } else {
            return syntax_error();
        }
        i += 1;
    }
    let (from, to) = (key(&args[1]), key(&args[2]));
    if from == to {
        return Reply::err("source and destination objects are the same");
    }
    let Some(entry) = db.get(&from, now).cloned() else {
        return Reply::Integer(0);
    };
    if !replace && db.get(&to, now).is_some() {
        return Reply::Integer(0);
    }
    // The copy shares the value's segments: no payload byte is copied.
    db.set(to.clone(), entry.value, entry.expires_at);
    keep_encoding(db, &to, entry.encoding, now);
    Reply::Integer(1)
}

fn keep_encoding(db: &mut Db, key: &[u8], encoding: Encoding, now: Instant) {
    if let Some(e) = db.get(key, now) {
        e.encoding = encoding;
    }
}

/// `OBJECT ENCODING key`: the encoding redis-server would report (nil for
/// a missing key). The other subcommands (`FREQ`, `IDLETIME`, `REFCOUNT`)
/// need access tracking this server does not keep.
pub(super) fn object(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    let sub = &args[1];
    if sub.eq_ignore_case(b"encoding") {
        if args.len() != 3 {
            return Reply::err("wrong number of arguments for 'object|encoding' command");
        }
        return match db.get(&key(&args[2]), now) {
            Some(e) => Reply::text(e.encoding_name()),
            None => Reply::Nil,
        };
    }
    Reply::err(format!(
        "unknown subcommand '{}'. Try OBJECT HELP.",
        String::from_utf8_lossy(&sub.to_bytes())
    ))
}

/// `KEYS pattern`: every live key matching, in no particular order.
/// O(keys), as in Redis.
pub(super) fn keys(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    let pattern = args[1].to_bytes();
    let all = &pattern[..] == b"*";
    Reply::Array(
        db.live(now)
            .filter(|(k, _)| all || glob::matches(&pattern, k, false))
            .map(|(k, _)| Reply::Bulk(Value::One(k.clone())))
            .collect(),
    )
}

/// `RANDOMKEY`: a live key, or nil when there is none.
pub(super) fn randomkey(db: &mut Db, _args: &[Value], now: Instant) -> Reply {
    let n = db.live(now).count();
    if n == 0 {
        return Reply::Nil;
    }
    let pick = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish() as usize
        % n;
    db.live(now)
        .nth(pick)
        .map_or(Reply::Nil, |(k, _)| Reply::Bulk(Value::One(k.clone())))
}

/// Where a key sits in `SCAN`'s order: a hash with fixed keys, so a cursor
/// means the same thing across calls (and restarts). Never 0, the cursor
/// that means "done".
fn scan_position(key: &[u8]) -> u64 {
    // FNV-1a: fixed, fast on short keys, well spread in its high bits.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h.max(1)
}

/// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]`.
///
/// The cursor is a position in a fixed hash order of the keys: each call
/// looks at the next `COUNT` keys after it (O(keys) to find them: the map
/// keeps no order) and answers the position of the last one, or 0 when
/// none is left. As with Redis, a key present for the whole scan is
/// returned at least once; keys added meanwhile may or may not be.
pub(super) fn scan(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    let Some(cursor) = scan_cursor(&args[1]) else {
        return Reply::err("invalid cursor");
    };
    let mut count = 10usize;
    let mut pattern: Option<Bytes> = None;
    let mut type_name: Option<Bytes> = None;
    let mut i = 2;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if args[i].eq_ignore_case(b"count") && has_value {
            match args[i + 1].to_i64() {
                None => return not_an_integer(),
                Some(n) if n < 1 => return syntax_error(),
                Some(n) => count = usize::try_from(n).unwrap_or(usize::MAX),
            }
        } else if args[i].eq_ignore_case(b"match") && has_value {
            let p = args[i + 1].to_bytes();
            pattern = (&p[..] != b"*").then_some(p);
        } else if args[i].eq_ignore_case(b"type") && has_value {
            type_name = Some(args[i + 1].to_bytes());
        } else {
            return syntax_error();
        }
        i += 2;
    }
    let mut ahead: Vec<(u64, &Bytes)> = db
        .live(now)
        .map(|(k, _)| (scan_position(k), k))
        .filter(|(pos, _)| *pos > cursor)
        .collect();
    let next = if ahead.len() > count {
        ahead.select_nth_unstable(count - 1);
        ahead.truncate(count);
        ahead.iter().map(|(pos, _)| *pos).max().unwrap_or(0)
    } else {
        0
    };
    let wanted_type = type_name.map_or(true, |t| t.eq_ignore_ascii_case(b"string"));
    let found = ahead
        .into_iter()
        .filter(|(_, k)| {
            wanted_type
                && pattern
                    .as_ref()
                    .map_or(true, |p| glob::matches(p, k, false))
        })
        .map(|(_, k)| Reply::Bulk(Value::One(k.clone())))
        .collect();
    Reply::Array(vec![
        Reply::Bulk(Value::One(Bytes::from(next.to_string()))),
        Reply::Array(found),
    ])
}

/// A `SCAN` cursor as Redis' `strtoul` reads it: decimal digits with an
/// optional sign (a negative one wraps), nothing else, no leading space;
/// the empty string is cursor 0.
fn scan_cursor(arg: &Value) -> Option<u64> {
    let s = arg.to_bytes();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, &s[..]),
    };
    if !digits.iter().all(u8::is_ascii_digit) || (digits.is_empty() && !s.is_empty()) {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { n.wrapping_neg() } else { n })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{bulk, run};
    use super::super::wrong_arity;
    use super::*;

    #[test]
    fn multi_key_commands() {
        let mut db = Db::new();
        let t = Instant::now();
        assert_eq!(run(&mut db, t, "MSET a 1 b 2"), Reply::Simple("OK"));
        assert_eq!(run(&mut db, t, "MSET a 1 b"), wrong_arity("mset"));
        assert_eq!(
            run(&mut db, t, "MGET a x b"),
            Reply::Array(vec![bulk("1"), Reply::Nil, bulk("2")])
        );
        assert_eq!(run(&mut db, t, "EXISTS a a x"), Reply::Integer(2));
        assert_eq!(run(&mut db, t, "DBSIZE"), Reply::Integer(2));
        assert_eq!(run(&mut db, t, "DEL a x"), Reply::Integer(1));
        assert_eq!(run(&mut db, t, "FLUSHALL"), Reply::Simple("OK"));
        assert_eq!(run(&mut db, t, "DBSIZE"), Reply::Integer(0));
    }

    #[test]
    fn rename_copy_type_and_their_errors() {
        let mut db = Db::new();
        let t = Instant::now();
        assert_eq!(run(&mut db, t, "RENAME a b"), Reply::err("no such key"));
        assert_eq!(run(&mut db, t, "RENAME a a"), Reply::err("no such key"));
        run(&mut db, t, "SET a 1 EX 100");
        run(&mut db, t, "SET c 3");
        assert_eq!(run(&mut db, t, "TYPE a"), Reply::Simple("string"));
        assert_eq!(run(&mut db, t, "TYPE x"), Reply::Simple("none"));
        assert_eq!(run(&mut db, t, "RENAMENX a c"), Reply::Integer(0));
        assert_eq!(run(&mut db, t, "RENAMENX a a"), Reply::Integer(0));
        assert_eq!(run(&mut db, t, "RENAME a b"), Reply::Simple("OK"));
        assert_eq!(run(&mut db, t, "TTL b"), Reply::Integer(100));
        assert_eq!(run(&mut db, t, "EXISTS a"), Reply::Integer(0));
        assert_eq!(run(&mut db, t, "COPY b c"), Reply::Integer(0));
        assert_eq!(run(&mut db, t, "COPY b c REPLACE DB 0"), Reply::Integer(1));
        assert_eq!(run(&mut db, t, "GET c"), bulk("1"));
        assert_eq!(run(&mut db, t, "TTL c"), Reply::Integer(100));
        assert_eq!(
            run(&mut db, t, "COPY b b"),
            Reply::err("source and destination objects are the same")
        );
        assert_eq!(
            run(&mut db, t, "COPY b d DB 1"),
            Reply::err("DB index is out of range")
        );
        assert_eq!(run(&mut db, t, "COPY b d FOO"), syntax_error());
        assert_eq!(run(&mut db, t, "UNLINK b c x"), Reply::Integer(2));
        assert_eq!(run(&mut db, t, "TOUCH b c x"), Reply::Integer(0));
    }

    #[test]
    fn keys_scan_and_randomkey_see_live_keys_only() {
        let mut db = Db::new();
        let t = Instant::now();
        assert_eq!(run(&mut db, t, "RANDOMKEY"), Reply::Nil);
        for i in 0..25 {
            run(&mut db, t, &format!("SET k{i} v"));
        }
        run(&mut db, t, "SET gone v PX 5");
        let later = t + std::time::Duration::from_millis(10);
        let Reply::Array(k1) = run(&mut db, later, "KEYS k1*") else {
            panic!("KEYS is an array")
        };
        assert_eq!(k1.len(), 11);
        let Reply::Bulk(_) = run(&mut db, later, "RANDOMKEY") else {
            panic!("RANDOMKEY of a non-empty db is a bulk")
        };
        // A full scan in steps of 10 returns each of the 25 live keys once.
        let mut seen = std::collections::HashSet::new();
        let mut cursor = "0".to_string();
        let mut calls = 0;
        loop {
            calls += 1;
            let Reply::Array(r) = run(&mut db, later, &format!("SCAN {cursor} COUNT 10")) else {
                panic!("SCAN is an array")
            };
            let [Reply::Bulk(next), Reply::Array(keys)] = &r[..] else {
                panic!("SCAN answers a cursor and keys")
            };
            for k in keys {
                assert!(seen.insert(format!("{k:?}")), "{k:?} returned twice");
            }
            cursor = String::from_utf8_lossy(&next.to_bytes()).into_owned();
            if cursor == "0" {
                break;
            }
        }
        assert_eq!((seen.len(), calls), (25, 3));
        assert_eq!(run(&mut db, t, "SCAN x"), Reply::err("invalid cursor"));
        assert_eq!(run(&mut db, t, "SCAN 0 COUNT 0"), syntax_error());
        assert_eq!(
            run(&mut db, t, "SCAN 0 TYPE list COUNT 100"),
            Reply::Array(vec![bulk("0"), Reply::Array(vec![])])
        );
    }

    #[test]
    fn copy_and_rename_move_the_stored_bytes_not_copies_of_them() {
        let mut db = Db::new();
        let t = Instant::now();
        let value = Bytes::from_static(b"payload");
        let set = [
            Value::from(&b"SET"[..]),
            Value::from(&b"a"[..]),
            Value::from(value.clone()),
        ];
        let (replies, copied) = weft_buf::measure_copies(|| {
            super::super::execute(&mut db, &set, t);
            run(&mut db, t, "COPY a b");
            run(&mut db, t, "RENAME b c");
            [run(&mut db, t, "GET a"), run(&mut db, t, "GET c")]
        });
        assert_eq!(copied, 0);
        for r in replies {
            let Reply::Bulk(v) = r else {
                panic!("GET answers a bulk")
            };
            assert_eq!(v.segments()[0].as_ptr(), value.as_ptr());
        }
    }
}
