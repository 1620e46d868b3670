//! The command engine: one parsed request in, one [`Reply`] out, with the
//! replies and error texts Redis 7 gives.
//!
//! [`execute`] finds the command in the table (`table`), checks its arity
//! as Redis does, and calls the command's function. The commands live by
//! what they act on:
//!
//! - `set`: writing a value and its deadline (`SET` and its options,
//!   `SETEX`, `MSET`, `GETEX`, ...);
//! - `strings`: reading and changing values (`GET`, `INCR`, `APPEND`,
//!   `GETRANGE`, ...), with `float` (`INCRBYFLOAT`'s arithmetic) and `lcs`;
//! - `keyspace`: keys whatever their value (`DEL`, `EXISTS`, `DBSIZE`, ...);
//! - `expiry`: deadlines (`EXPIRE`, `TTL`, `PERSIST`) and the conversion
//!   between the monotonic clock and Redis' Unix-millisecond times;
//! - `server`: the connection and the server (`PING`, `SELECT`, `CONFIG`);
//! - `session`: what a connection keeps between requests (`MULTI`/`EXEC`,
//!   `WATCH`, `CLIENT`, `HELLO`);
//! - `table`: the command table itself, and `COMMAND`, which describes it.

mod expiry;
mod float;
mod glob;
mod keyspace;
mod lcs;
mod server;
mod session;
mod set;
mod strings;
mod table;

use std::time::Instant;

use bytes::Bytes;

use super::db::Db;
use super::reply::Reply;
use super::value::Value;

pub use session::{Session, REDIS_VERSION};
pub use strings::MAX_VALUE_SEGMENTS;

/// What the connection does after sending the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum After {
    /// Keep reading requests.
    Continue,
    /// Close once the reply is sent (`QUIT`).
    Close,
}

/// Runs one request against `db` at time `now`, for a connection without
/// state of its own (a fresh [`Session`]: no transaction, no name).
///
/// `args` is never empty (the parser skips empty requests); if it is, the
/// reply is an error rather than a panic.
///
/// # Examples
///
/// ```
/// use std::time::Instant;
/// use weft_examples::resp::{command::execute, db::Db, reply::Reply, value::Value};
///
/// let mut db = Db::new();
/// let req = |s: &[&'static str]| -> Vec<Value> {
///     s.iter().map(|a| Value::from(a.as_bytes())).collect()
/// };
/// let now = Instant::now();
/// assert_eq!(execute(&mut db, &req(&["SET", "n", "41"]), now).0, Reply::Simple("OK"));
/// assert_eq!(execute(&mut db, &req(&["incr", "n"]), now).0, Reply::Integer(42));
/// ```
pub fn execute(db: &mut Db, args: &[Value], now: Instant) -> (Reply, After) {
    execute_in(&mut Session::new(), db, args, now)
}

/// Runs one request of the connection whose state is `session` against
/// `db` at time `now`. Inside a transaction, a request is checked (name,
/// arity) and queued; `EXEC` runs the queue.
///
/// # Examples
///
/// ```
/// use std::time::Instant;
/// use weft_examples::resp::command::{execute_in, Session};
/// use weft_examples::resp::{db::Db, reply::Reply, value::Value};
///
/// let (mut s, mut db) = (Session::new(), Db::new());
/// let args = [Value::from(&b"CLIENT"[..]), Value::from(&b"ID"[..])];
/// let (reply, _) = execute_in(&mut s, &mut db, &args, Instant::now());
/// assert_eq!(reply, Reply::Integer(s.id() as i64));
/// ```
pub fn execute_in(
    session: &mut Session,
    db: &mut Db,
    args: &[Value],
    now: Instant,
) -> (Reply, After) {
    let Some(name) = args.first() else {
        return (Reply::err("empty command"), After::Continue);
    };
    let Some(spec) = table::find(name) else {
        session.refuse();
        return (
            unknown_command(&name.to_bytes(), &args[1..]),
            After::Continue,
        );
    };
    let argc = args.len() as i64;
    if (spec.arity > 0 && argc != spec.arity) || argc < -spec.arity {
        if spec.name == "exec" {
            // Redis ends the transaction (if any) on an EXEC it refuses.
            session.abort(db);
            let why = format!("wrong number of arguments for '{}' command", spec.name);
            return (
                Reply::Error(format!("EXECABORT Transaction discarded because of: {why}")),
                After::Continue,
            );
        }
        session.refuse();
        return (wrong_arity(spec.name), After::Continue);
    }
    let sub = match table::check_subcommand(spec, args) {
        Ok(sub) => sub,
        Err(e) => {
            session.refuse();
            return (e, After::Continue);
        }
    };
    if session.in_transaction() && !session::runs_in_transaction(spec.name) {
        session.queue(args);
        return (Reply::Simple("QUEUED"), After::Continue);
    }
    let reply = match spec.run {
        table::Run::Db(run) => run(db, args, now),
        table::Run::Session(run) => run(session, db, args, now),
    };
    // Counted once run, as Redis counts: INFO does not count itself.
    db.stats.commands_processed += 1;
    session.last_cmd = (spec.name, sub);
    let after = if spec.name == "quit" {
        After::Close
    } else {
        After::Continue
    };
    (reply, after)
}

/// A key as one contiguous `Bytes`: free when it lies in one read, a counted
/// copy when it straddles two.
pub(super) fn key(arg: &Value) -> Bytes {
    arg.to_bytes()
}

pub(super) fn wrong_arity(name: &str) -> Reply {
    Reply::err(format!("wrong number of arguments for '{name}' command"))
}

pub(super) fn not_an_integer() -> Reply {
    Reply::err("value is not an integer or out of range")
}

pub(super) fn syntax_error() -> Reply {
    Reply::err("syntax error")
}

fn unknown_command(name: &[u8], rest: &[Value]) -> Reply {
    let mut args = String::new();
    for a in rest {
        if args.len() >= 128 {
            break;
        }
        let a = a.to_bytes();
        args.push_str(&format!("'{}' ", show(&a[..a.len().min(128 - args.len())])));
    }
    Reply::err(format!(
        "unknown command '{}', with args beginning with: {args}",
        show(&name[..name.len().min(128)])
    ))
}

/// Client bytes as text for an error reply: printable ASCII as is, anything
/// else as `\xHH`.
fn show(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_graphic() || b == b' ' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// What the tests of every command module share: a request from a line of
/// words, and a bulk reply from text.
#[cfg(test)]
pub(super) mod test_support {
    use std::time::Instant;

    use bytes::Bytes;

    use super::super::{db::Db, reply::Reply, value::Value};

    pub(crate) fn run(db: &mut Db, now: Instant, line: &str) -> Reply {
        let args: Vec<Value> = line
            .split(' ')
            .map(|a| Value::One(Bytes::copy_from_slice(a.as_bytes())))
            .collect();
        super::execute(db, &args, now).0
    }

    pub(crate) fn bulk(s: &str) -> Reply {
        Reply::Bulk(Value::One(Bytes::copy_from_slice(s.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{bulk, run};
    use super::*;

    #[test]
    fn errors_read_like_redis() {
        let mut db = Db::new();
        let t = Instant::now();
        assert_eq!(
            run(&mut db, t, "GET"),
            Reply::err("wrong number of arguments for 'get' command")
        );
        assert_eq!(
            run(&mut db, t, "FOO a b"),
            Reply::err("unknown command 'FOO', with args beginning with: 'a' 'b' ")
        );
        assert_eq!(run(&mut db, t, "PING"), Reply::Simple("PONG"));
        assert_eq!(run(&mut db, t, "ping hi"), bulk("hi"));
        assert_eq!(
            run(&mut db, t, "\u{1}x\u{7f}"),
            Reply::err("unknown command '\\x01x\\x7f', with args beginning with: ")
        );
        assert_eq!(
            run(&mut db, t, "SELECT 1"),
            Reply::err("DB index is out of range")
        );
    }
}
