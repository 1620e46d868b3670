//! Commands on keys whatever their value: `DEL`, `EXISTS`, `DBSIZE`,
//! `FLUSHALL`, `FLUSHDB`.

use std::time::Instant;

use super::super::db::Db;
use super::super::reply::Reply;
use super::super::value::Value;
use super::{key, syntax_error};

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

/// `FLUSHALL`/`FLUSHDB [SYNC|ASYNC]`: both flush at once.
pub(super) fn flush(db: &mut Db, args: &[Value], _now: Instant) -> Reply {
    match args.get(1) {
        Some(m) if !(m.eq_ignore_case(b"sync") || m.eq_ignore_case(b"async")) => syntax_error(),
        _ => {
            db.clear();
            Reply::Simple("OK")
        }
    }
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
}
