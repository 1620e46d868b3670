//! Writing a value with its deadline: `SET` and its options (`NX`, `XX`,
//! `GET`, `EX`, `PX`, `EXAT`, `PXAT`, `KEEPTTL`), `SETNX`, `SETEX`,
//! `PSETEX`, `MSET`, `MSETNX`, and `GETEX`, which shares `SET`'s expiry
//! options. The value stored is the request's argument: a slice of the read.

use std::time::Instant;

use super::super::db::Db;
use super::super::reply::Reply;
use super::super::value::Value;
use super::expiry::{instant_of, invalid_expire_time, relative_deadline_ms, unix_ms};
use super::{key, not_an_integer, syntax_error, wrong_arity};

pub(super) fn mset(db: &mut Db, args: &[Value], _now: Instant) -> Reply {
    if args.len() % 2 == 0 {
        return wrong_arity("mset");
    }
    for pair in args[1..].chunks_exact(2) {
        db.set(key(&pair[0]), pair[1].clone(), None);
    }
    Reply::Simple("OK")
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
}
