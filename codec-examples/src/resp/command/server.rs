//! The connection and the server: `PING`, `ECHO`, `QUIT`, `SELECT`,
//! `CONFIG`.

use std::time::Instant;

use super::super::db::Db;
use super::super::reply::Reply;
use super::super::value::Value;
use super::{glob, not_an_integer, wrong_arity};

/// The replies `CONFIG GET` knows: what redis-benchmark asks at start-up
/// (`save`, `appendonly`) and a few that tools commonly read.
const CONFIG: &[(&str, &str)] = &[
    ("save", ""),
    ("appendonly", "no"),
    ("databases", "1"),
    ("maxmemory", "0"),
    ("proto-max-bulk-len", "536870912"),
];

pub(super) fn ping(_db: &mut Db, args: &[Value], _now: Instant) -> Reply {
    match args {
        [_] => Reply::Simple("PONG"),
        [_, msg] => Reply::Bulk(msg.clone()),
        _ => wrong_arity("ping"),
    }
}

pub(super) fn echo(_db: &mut Db, args: &[Value], _now: Instant) -> Reply {
    Reply::Bulk(args[1].clone())
}

/// `QUIT`: the reply; [`execute`](super::execute) closes the connection.
pub(super) fn quit(_db: &mut Db, _args: &[Value], _now: Instant) -> Reply {
    Reply::Simple("OK")
}

pub(super) fn select(_db: &mut Db, args: &[Value], _now: Instant) -> Reply {
    match args[1].to_i64() {
        Some(0) => Reply::Simple("OK"),
        Some(_) => Reply::err("DB index is out of range"),
        None => not_an_integer(),
    }
}

pub(super) fn config(_db: &mut Db, args: &[Value], _now: Instant) -> Reply {
    let sub = args[1].to_bytes();
    if sub.eq_ignore_ascii_case(b"get") {
        if args.len() < 3 {
            return Reply::err("wrong number of arguments for 'config|get' command");
        }
        let mut out = Vec::new();
        for (name, value) in CONFIG {
            if args[2..]
                .iter()
                .any(|p| glob::matches(&p.to_bytes(), name.as_bytes(), true))
            {
                out.push(Reply::text(name));
                out.push(Reply::text(value));
            }
        }
        Reply::Array(out)
    } else if sub.eq_ignore_ascii_case(b"resetstat") {
        Reply::Simple("OK")
    } else {
        Reply::err(format!(
            "unknown subcommand '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(&sub)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{bulk, run};
    use super::*;

    #[test]
    fn start_up_queries_of_redis_benchmark_and_redis_cli() {
        let mut db = Db::new();
        let t = Instant::now();
        assert_eq!(
            run(&mut db, t, "CONFIG GET save"),
            Reply::Array(vec![bulk("save"), bulk("")])
        );
        assert_eq!(
            run(&mut db, t, "CONFIG GET appendonly"),
            Reply::Array(vec![bulk("appendonly"), bulk("no")])
        );
        assert_eq!(run(&mut db, t, "CONFIG GET nothing"), Reply::Array(vec![]));
    }
}
