//! Deadlines: `EXPIRE`, `PEXPIRE`, `TTL`, `PTTL`, `PERSIST`, and the one
//! conversion between the monotonic clock the key space runs on and the
//! Unix milliseconds Redis computes expiry times in (so its overflow
//! checks and whole-millisecond comparisons give the same answers here).

use std::time::{Duration, Instant};

use super::super::db::Db;
use super::super::reply::Reply;
use super::super::value::Value;
use super::{key, not_an_integer};

/// The Unix time in milliseconds that the monotonic clock's `Instant`
/// values are counted from: read once, so every conversion between a
/// deadline [`Instant`] and Redis' Unix-millisecond expiry times is exact
/// (a deadline set to Unix ms `t` reads back as `t`), as Redis' own
/// comparisons of `GT`/`LT` and `TTL` are whole milliseconds.
pub(super) fn epoch() -> (Instant, i64) {
    static EPOCH: std::sync::OnceLock<(Instant, i64)> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(|| {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        (Instant::now(), unix)
    })
}

/// `t` in Unix milliseconds (whole milliseconds, rounded down).
pub(super) fn unix_ms(t: Instant) -> i64 {
    let (at, ms) = epoch();
    let ms_i = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    match t.checked_duration_since(at) {
        Some(after) => ms.saturating_add(ms_i(after)),
        None => ms.saturating_sub(ms_i(at.duration_since(t))),
    }
}

/// The [`Instant`] of the Unix time `when_ms`, exactly (see [`epoch`]);
/// a time the monotonic clock cannot hold is clamped to `now` when in the
/// past and to the farthest it can hold when in the future.
pub(super) fn instant_of(now: Instant, when_ms: i64) -> Instant {
    let (at, ms) = epoch();
    let offset = when_ms.saturating_sub(ms);
    let d = Duration::from_millis(offset.unsigned_abs());
    let t = if offset >= 0 {
        at.checked_add(d)
    } else {
        at.checked_sub(d)
    };
    t.unwrap_or_else(|| {
        if offset < 0 {
            now
        } else {
            // ~9 million years: beyond any deadline a test or client sees.
            now.checked_add(Duration::from_secs(1 << 48)).unwrap_or(now)
        }
    })
}

/// `amount` units of `unit_ms` after `base_ms`, in Unix milliseconds, or
/// `None` where Redis answers "invalid expire time": the product or the
/// sum leaves `i64`. Negative results are valid (already expired).
pub(super) fn relative_deadline_ms(amount: i64, unit_ms: i64, base_ms: i64) -> Option<i64> {
    amount.checked_mul(unit_ms)?.checked_add(base_ms)
}

pub(super) fn invalid_expire_time(name: &str) -> Reply {
    Reply::err(format!("invalid expire time in '{name}' command"))
}

pub(super) fn expire(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    set_deadline(db, args, "expire", now)
}

pub(super) fn pexpire(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    set_deadline(db, args, "pexpire", now)
}

pub(super) fn expireat(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    set_deadline(db, args, "expireat", now)
}

pub(super) fn pexpireat(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    set_deadline(db, args, "pexpireat", now)
}

/// `EXPIRE`/`PEXPIRE`/`EXPIREAT`/`PEXPIREAT key time [NX|XX|GT|LT]`
/// (`name` says which) in Redis 7's order: options,
/// then the number, then its overflow check (also for a missing key), then
/// the key; a deadline not in the future deletes the key.
fn set_deadline(db: &mut Db, args: &[Value], name: &str, now: Instant) -> Reply {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &args[3..] {
        if opt.eq_ignore_case(b"nx") {
            nx = true;
        } else if opt.eq_ignore_case(b"xx") {
            xx = true;
        } else if opt.eq_ignore_case(b"gt") {
            gt = true;
        } else if opt.eq_ignore_case(b"lt") {
            lt = true;
        } else {
            return Reply::err(format!(
                "Unsupported option {}",
                String::from_utf8_lossy(&opt.to_bytes())
            ));
        }
    }
    if nx && (xx || gt || lt) {
        return Reply::err("NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return Reply::err("GT and LT options at the same time are not compatible");
    }
    let Some(n) = args[2].to_i64() else {
        return not_an_integer();
    };
    let unit = if name.starts_with('p') { 1 } else { 1000 };
    let base = unix_ms(now);
    let from = if name.ends_with("at") { 0 } else { base };
    let Some(when) = relative_deadline_ms(n, unit, from) else {
        return invalid_expire_time(name);
    };
    let k = key(&args[1]);
    let Some(current) = db.get(&k, now).map(|e| e.expires_at) else {
        return Reply::Integer(0);
    };
    let expired = when <= base;
    let allowed = match current.map(unix_ms) {
        None => !xx && !gt,
        Some(t) => !nx && (!gt || when > t) && (!lt || when < t),
    };
    if !allowed {
        return Reply::Integer(0);
    }
    if expired {
        db.remove(&k, now);
    } else {
        db.set_expiry(&k, Some(instant_of(now, when)), now);
    }
    Reply::Integer(1)
}

/// Milliseconds `key` has left: -2 when it does not exist, -1 when it
/// has no deadline (Redis' `PTTL`).
fn ms_left(db: &mut Db, args: &[Value], now: Instant) -> i64 {
    match db.get(&key(&args[1]), now) {
        None => -2,
        Some(e) => match e.expires_at {
            None => -1,
            Some(t) => unix_ms(t).saturating_sub(unix_ms(now)).max(0),
        },
    }
}

pub(super) fn ttl(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    let ms = ms_left(db, args, now);
    // Redis rounds to the nearest second.
    Reply::Integer(if ms >= 0 {
        ms.saturating_add(500) / 1000
    } else {
        ms
    })
}

pub(super) fn pttl(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    Reply::Integer(ms_left(db, args, now))
}

/// `EXPIRETIME key`: the deadline in Unix seconds (rounded down), -1
/// without one, -2 without the key.
pub(super) fn expiretime(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    Reply::Integer(match deadline_ms(db, args, now) {
        n if n < 0 => n,
        n => n / 1000,
    })
}

/// `PEXPIRETIME key`: the deadline in Unix milliseconds.
pub(super) fn pexpiretime(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    Reply::Integer(deadline_ms(db, args, now))
}

fn deadline_ms(db: &mut Db, args: &[Value], now: Instant) -> i64 {
    match db.get(&key(&args[1]), now) {
        None => -2,
        Some(e) => e.expires_at.map_or(-1, unix_ms),
    }
}

pub(super) fn persist(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    let k = key(&args[1]);
    let had = db.get(&k, now).is_some_and(|e| e.expires_at.is_some());
    if had {
        db.set_expiry(&k, None, now);
    }
    Reply::Integer(i64::from(had))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{bulk, run};
    use super::*;

    #[test]
    fn expire_ttl_persist() {
        let mut db = Db::new();
        let t = Instant::now();
        assert_eq!(run(&mut db, t, "EXPIRE k 10"), Reply::Integer(0));
        assert_eq!(run(&mut db, t, "TTL k"), Reply::Integer(-2));
        run(&mut db, t, "SET k v");
        assert_eq!(run(&mut db, t, "TTL k"), Reply::Integer(-1));
        assert_eq!(run(&mut db, t, "EXPIRE k 10 XX"), Reply::Integer(0));
        assert_eq!(run(&mut db, t, "EXPIRE k 10"), Reply::Integer(1));
        assert_eq!(run(&mut db, t, "EXPIRE k 5 GT"), Reply::Integer(0));
        assert_eq!(run(&mut db, t, "EXPIRE k 5 LT"), Reply::Integer(1));
        assert_eq!(run(&mut db, t, "TTL k"), Reply::Integer(5));
        assert_eq!(run(&mut db, t, "PERSIST k"), Reply::Integer(1));
        assert_eq!(run(&mut db, t, "TTL k"), Reply::Integer(-1));
        assert_eq!(run(&mut db, t, "EXPIRE k -1"), Reply::Integer(1));
        assert_eq!(run(&mut db, t, "EXISTS k"), Reply::Integer(0));
    }

    #[test]
    fn expiry_times_that_overflow_are_refused_and_delete_nothing() {
        let mut db = Db::new();
        let t = Instant::now();
        run(&mut db, t, "SET k v");
        for cmd in [
            "EXPIRE k 9223372036854775807",
            "EXPIRE k -9223372036854775808",
            "EXPIRE k 9223372036854775",
            "PEXPIRE k 9223372036854775807",
        ] {
            let name = cmd.split(' ').next().unwrap_or_default().to_lowercase();
            assert_eq!(run(&mut db, t, cmd), invalid_expire_time(&name), "{cmd}");
        }
        assert_eq!(
            run(&mut db, t, "EXPIRE nokey -9223372036854775808"),
            invalid_expire_time("expire")
        );
        assert_eq!(run(&mut db, t, "TTL k"), Reply::Integer(-1));
        assert_eq!(
            run(&mut db, t, "SET k v PX 9223372036854775807"),
            invalid_expire_time("set")
        );
        assert_eq!(run(&mut db, t, "GET k"), bulk("v"));
        // A huge negative PEXPIRE does not overflow: the key is gone.
        assert_eq!(
            run(&mut db, t, "PEXPIRE k -9223372036854775808"),
            Reply::Integer(1)
        );
        assert_eq!(run(&mut db, t, "EXISTS k"), Reply::Integer(0));
    }

    #[test]
    fn absolute_deadlines_read_back_exactly() {
        let mut db = Db::new();
        let t = Instant::now();
        run(&mut db, t, "SET k v");
        assert_eq!(run(&mut db, t, "EXPIRETIME k"), Reply::Integer(-1));
        assert_eq!(run(&mut db, t, "EXPIRETIME x"), Reply::Integer(-2));
        assert_eq!(
            run(&mut db, t, "PEXPIREAT k 99999999999999"),
            Reply::Integer(1)
        );
        assert_eq!(
            run(&mut db, t, "PEXPIRETIME k"),
            Reply::Integer(99_999_999_999_999)
        );
        assert_eq!(
            run(&mut db, t, "EXPIRETIME k"),
            Reply::Integer(99_999_999_999)
        );
        assert_eq!(
            run(&mut db, t, "EXPIREAT k 99999999999 GT"),
            Reply::Integer(0)
        );
        assert_eq!(
            run(&mut db, t, "EXPIREAT k 9223372036854776"),
            invalid_expire_time("expireat")
        );
        assert_eq!(run(&mut db, t, "EXPIREAT k 1"), Reply::Integer(1));
        assert_eq!(run(&mut db, t, "EXISTS k"), Reply::Integer(0));
    }
}
