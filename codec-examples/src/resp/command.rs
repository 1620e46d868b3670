//! The command engine: one parsed request in, one [`Reply`] out, with the
//! replies and error texts Redis 7 gives.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::db::Db;
use super::protocol::MAX_BULK_LEN;
use super::reply::Reply;
use super::value::Value;

/// What the connection does after sending the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum After {
    /// Keep reading requests.
    Continue,
    /// Close once the reply is sent (`QUIT`).
    Close,
}

/// Segments a value may gather through `APPEND` before it is consolidated
/// into one (a counted copy), so a value cannot grow an unbounded iovec list.
pub const MAX_VALUE_SEGMENTS: usize = 64;

/// One command this server knows: name, Redis arity (`n` exactly, `-n` at
/// least), flags, first/last/step key positions, summary, group.
struct Spec {
    name: &'static str,
    arity: i64,
    write: bool,
    keys: (i64, i64, i64),
    summary: &'static str,
    group: &'static str,
}

const fn spec(
    name: &'static str,
    arity: i64,
    write: bool,
    keys: (i64, i64, i64),
    summary: &'static str,
    group: &'static str,
) -> Spec {
    Spec {
        name,
        arity,
        write,
        keys,
        summary,
        group,
    }
}

const NO_KEYS: (i64, i64, i64) = (0, 0, 0);
const ONE_KEY: (i64, i64, i64) = (1, 1, 1);

/// Every command served, in the order `COMMAND` lists them.
const COMMANDS: &[Spec] = &[
    spec(
        "ping",
        -1,
        false,
        NO_KEYS,
        "Returns the server's liveliness response.",
        "connection",
    ),
    spec(
        "echo",
        2,
        false,
        NO_KEYS,
        "Returns the given string.",
        "connection",
    ),
    spec(
        "quit",
        -1,
        false,
        NO_KEYS,
        "Closes the connection.",
        "connection",
    ),
    spec(
        "select",
        2,
        false,
        NO_KEYS,
        "Changes the selected database (only 0 exists).",
        "connection",
    ),
    spec(
        "get",
        2,
        false,
        ONE_KEY,
        "Returns the string value of a key.",
        "string",
    ),
    spec(
        "set",
        -3,
        true,
        ONE_KEY,
        "Sets the string value of a key, ignoring its type.",
        "string",
    ),
    spec(
        "del",
        -2,
        true,
        (1, -1, 1),
        "Deletes one or more keys.",
        "generic",
    ),
    spec(
        "exists",
        -2,
        false,
        (1, -1, 1),
        "Determines whether one or more keys exist.",
        "generic",
    ),
    spec(
        "incr",
        2,
        true,
        ONE_KEY,
        "Increments the integer value of a key by one.",
        "string",
    ),
    spec(
        "decr",
        2,
        true,
        ONE_KEY,
        "Decrements the integer value of a key by one.",
        "string",
    ),
    spec(
        "incrby",
        3,
        true,
        ONE_KEY,
        "Increments the integer value of a key by a number.",
        "string",
    ),
    spec(
        "decrby",
        3,
        true,
        ONE_KEY,
        "Decrements a number from the integer value of a key.",
        "string",
    ),
    spec(
        "mget",
        -2,
        false,
        (1, -1, 1),
        "Atomically returns the string values of one or more keys.",
        "string",
    ),
    spec(
        "mset",
        -3,
        true,
        (1, -1, 2),
        "Atomically creates or modifies the string values of one or more keys.",
        "string",
    ),
    spec(
        "append",
        3,
        true,
        ONE_KEY,
        "Appends a string to the value of a key.",
        "string",
    ),
    spec(
        "strlen",
        2,
        false,
        ONE_KEY,
        "Returns the length of a string value.",
        "string",
    ),
    spec(
        "expire",
        -3,
        true,
        ONE_KEY,
        "Sets the expiration time of a key in seconds.",
        "generic",
    ),
    spec(
        "pexpire",
        -3,
        true,
        ONE_KEY,
        "Sets the expiration time of a key in milliseconds.",
        "generic",
    ),
    spec(
        "ttl",
        2,
        false,
        ONE_KEY,
        "Returns the expiration time in seconds of a key.",
        "generic",
    ),
    spec(
        "pttl",
        2,
        false,
        ONE_KEY,
        "Returns the expiration time in milliseconds of a key.",
        "generic",
    ),
    spec(
        "persist",
        2,
        true,
        ONE_KEY,
        "Removes the expiration time of a key.",
        "generic",
    ),
    spec(
        "dbsize",
        1,
        false,
        NO_KEYS,
        "Returns the number of keys in the database.",
        "server",
    ),
    spec(
        "flushall",
        -1,
        true,
        NO_KEYS,
        "Removes all keys from all databases.",
        "server",
    ),
    spec(
        "flushdb",
        -1,
        true,
        NO_KEYS,
        "Remove all keys from the current database.",
        "server",
    ),
    spec(
        "config",
        -2,
        false,
        NO_KEYS,
        "A container for server configuration commands.",
        "server",
    ),
    spec(
        "command",
        -1,
        false,
        NO_KEYS,
        "Returns detailed information about all commands.",
        "server",
    ),
];

/// The replies `CONFIG GET` knows: what redis-benchmark asks at start-up
/// (`save`, `appendonly`) and a few that tools commonly read.
const CONFIG: &[(&str, &str)] = &[
    ("save", ""),
    ("appendonly", "no"),
    ("databases", "1"),
    ("maxmemory", "0"),
    ("proto-max-bulk-len", "536870912"),
];

/// Runs one request against `db` at time `now`.
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
    let Some(name) = args.first() else {
        return (Reply::err("empty command"), After::Continue);
    };
    let Some(spec) = find_spec(name) else {
        return (
            unknown_command(&name.to_bytes(), &args[1..]),
            After::Continue,
        );
    };
    let argc = args.len() as i64;
    if (spec.arity > 0 && argc != spec.arity) || argc < -spec.arity {
        return (wrong_arity(spec.name), After::Continue);
    }
    let reply = match spec.name {
        "ping" => match args.get(1) {
            None => Reply::Simple("PONG"),
            Some(msg) if args.len() == 2 => Reply::Bulk(msg.clone()),
            Some(_) => wrong_arity("ping"),
        },
        "echo" => Reply::Bulk(args[1].clone()),
        "quit" => return (Reply::Simple("OK"), After::Close),
        "select" => match args[1].to_i64() {
            Some(0) => Reply::Simple("OK"),
            Some(_) => Reply::err("DB index is out of range"),
            None => not_an_integer(),
        },
        "get" => match db.get_owned(key(&args[1]), now) {
            Some(e) => Reply::Bulk(e.value.clone()),
            None => Reply::Nil,
        },
        "set" => set(db, args, now),
        "del" => {
            Reply::Integer(args[1..].iter().filter(|k| db.remove(&key(k), now)).count() as i64)
        }
        "exists" => Reply::Integer(
            args[1..]
                .iter()
                .filter(|k| db.get(&key(k), now).is_some())
                .count() as i64,
        ),
        "incr" => incr_by(db, &args[1], 1, now),
        "decr" => incr_by(db, &args[1], -1, now),
        "incrby" | "decrby" => match args[2].to_i64() {
            Some(n) if spec.name == "incrby" => incr_by(db, &args[1], n, now),
            Some(n) => match n.checked_neg() {
                Some(n) => incr_by(db, &args[1], n, now),
                None => Reply::err("decrement would overflow"),
            },
            None => not_an_integer(),
        },
        "mget" => Reply::Array(
            args[1..]
                .iter()
                .map(|k| match db.get(&key(k), now) {
                    Some(e) => Reply::Bulk(e.value.clone()),
                    None => Reply::Nil,
                })
                .collect(),
        ),
        "mset" if args.len() % 2 == 0 => wrong_arity("mset"),
        "mset" => {
            for pair in args[1..].chunks_exact(2) {
                db.set(key(&pair[0]), pair[1].clone(), None);
            }
            Reply::Simple("OK")
        }
        "append" => append(db, &args[1], &args[2], now),
        "strlen" => Reply::Integer(db.get(&key(&args[1]), now).map_or(0, |e| e.value.len()) as i64),
        "expire" | "pexpire" => expire(db, args, spec.name, now),
        "ttl" | "pttl" => {
            let ms = match db.get(&key(&args[1]), now) {
                None => -2,
                Some(e) => match e.expires_at {
                    None => -1,
                    Some(t) => unix_ms(t).saturating_sub(unix_ms(now)).max(0),
                },
            };
            Reply::Integer(if spec.name == "ttl" && ms >= 0 {
                ms.saturating_add(500) / 1000
            } else {
                ms
            })
        }
        "persist" => {
            let had = db
                .get(&key(&args[1]), now)
                .is_some_and(|e| e.expires_at.is_some());
            if had {
                db.set_expiry(&key(&args[1]), None, now);
            }
            Reply::Integer(i64::from(had))
        }
        "dbsize" => Reply::Integer(db.len() as i64),
        "flushall" | "flushdb" => match args.get(1).map(|a| a.to_bytes()) {
            None => flush(db),
            Some(m) if m.eq_ignore_ascii_case(b"sync") || m.eq_ignore_ascii_case(b"async") => {
                flush(db)
            }
            Some(_) => Reply::err("syntax error"),
        },
        "config" => config(args),
        "command" => command(args),
        _ => Reply::err("unknown command"),
    };
    (reply, After::Continue)
}

/// The command named by `name`, any case. The name is lowered once into a
/// stack buffer, so each candidate costs a length check and at most one
/// short compare.
fn find_spec(name: &Value) -> Option<&'static Spec> {
    const LONGEST: usize = 16;
    let Value::One(name) = name else {
        return COMMANDS
            .iter()
            .find(|s| name.eq_ignore_case(s.name.as_bytes()));
    };
    if name.len() > LONGEST {
        return None;
    }
    let mut lower = [0u8; LONGEST];
    let lower = &mut lower[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    COMMANDS.iter().find(|s| s.name.as_bytes() == &lower[..])
}

fn flush(db: &mut Db) -> Reply {
    db.clear();
    Reply::Simple("OK")
}

/// A key as one contiguous `Bytes`: free when it lies in one read, a counted
/// copy when it straddles two.
fn key(arg: &Value) -> Bytes {
    arg.to_bytes()
}

fn wrong_arity(name: &str) -> Reply {
    Reply::err(format!("wrong number of arguments for '{name}' command"))
}

fn not_an_integer() -> Reply {
    Reply::err("value is not an integer or out of range")
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
fn set(db: &mut Db, args: &[Value], now: Instant) -> Reply {
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
            return Reply::err("syntax error");
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

/// The Unix time in milliseconds that the monotonic clock's `Instant`
/// values are counted from: read once, so every conversion between a
/// deadline [`Instant`] and Redis' Unix-millisecond expiry times is exact
/// (a deadline set to Unix ms `t` reads back as `t`), as Redis' own
/// comparisons of `GT`/`LT` and `TTL` are whole milliseconds.
fn epoch() -> (Instant, i64) {
    static EPOCH: std::sync::OnceLock<(Instant, i64)> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(|| {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        (Instant::now(), unix)
    })
}

/// `t` in Unix milliseconds (whole milliseconds, rounded down).
fn unix_ms(t: Instant) -> i64 {
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
fn instant_of(now: Instant, when_ms: i64) -> Instant {
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
fn relative_deadline_ms(amount: i64, unit_ms: i64, base_ms: i64) -> Option<i64> {
    amount.checked_mul(unit_ms)?.checked_add(base_ms)
}

fn invalid_expire_time(name: &str) -> Reply {
    Reply::err(format!("invalid expire time in '{name}' command"))
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

fn append(db: &mut Db, key_arg: &Value, more: &Value, now: Instant) -> Reply {
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

/// `EXPIRE`/`PEXPIRE key time [NX|XX|GT|LT]` in Redis 7's order: options,
/// then the number, then its overflow check (also for a missing key), then
/// the key; a deadline not in the future deletes the key.
fn expire(db: &mut Db, args: &[Value], name: &str, now: Instant) -> Reply {
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
    let unit = if name == "expire" { 1000 } else { 1 };
    let base = unix_ms(now);
    let Some(when) = relative_deadline_ms(n, unit, base) else {
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

fn config(args: &[Value]) -> Reply {
    let sub = args[1].to_bytes();
    if sub.eq_ignore_ascii_case(b"get") {
        if args.len() < 3 {
            return Reply::err("wrong number of arguments for 'config|get' command");
        }
        let mut out = Vec::new();
        for (name, value) in CONFIG {
            if args[2..]
                .iter()
                .any(|p| glob_match(&p.to_bytes(), name.as_bytes()))
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

/// `*` and `?` globbing, as `CONFIG GET` patterns use (no classes).
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| glob_match(rest, &text[i..])),
        Some((&p, rest)) => match text.split_first() {
            Some((&t, text_rest)) if p == b'?' || p.eq_ignore_ascii_case(&t) => {
                glob_match(rest, text_rest)
            }
            _ => false,
        },
    }
}

fn command_info(s: &Spec) -> Reply {
    let flags = if s.write { "write" } else { "readonly" };
    Reply::Array(vec![
        Reply::text(s.name),
        Reply::Integer(s.arity),
        Reply::Array(vec![Reply::Simple(flags)]),
        Reply::Integer(s.keys.0),
        Reply::Integer(s.keys.1),
        Reply::Integer(s.keys.2),
    ])
}

fn command_docs(s: &Spec) -> [Reply; 2] {
    [
        Reply::text(s.name),
        Reply::Array(vec![
            Reply::text("summary"),
            Reply::text(s.summary),
            Reply::text("since"),
            Reply::text("1.0.0"),
            Reply::text("group"),
            Reply::text(s.group),
        ]),
    ]
}

fn command(args: &[Value]) -> Reply {
    let Some(sub) = args.get(1).map(|a| a.to_bytes()) else {
        return Reply::Array(COMMANDS.iter().map(command_info).collect());
    };
    let named = |names: &[Value]| -> Vec<Option<&'static Spec>> {
        names
            .iter()
            .map(|n| {
                let n = n.to_bytes();
                COMMANDS
                    .iter()
                    .find(|s| s.name.as_bytes().eq_ignore_ascii_case(&n))
            })
            .collect()
    };
    if sub.eq_ignore_ascii_case(b"count") {
        Reply::Integer(COMMANDS.len() as i64)
    } else if sub.eq_ignore_ascii_case(b"docs") {
        let specs: Vec<&Spec> = if args.len() == 2 {
            COMMANDS.iter().collect()
        } else {
            named(&args[2..]).into_iter().flatten().collect()
        };
        Reply::Array(specs.into_iter().flat_map(command_docs).collect())
    } else if sub.eq_ignore_ascii_case(b"info") {
        Reply::Array(
            named(&args[2..])
                .into_iter()
                .map(|s| s.map_or(Reply::Nil, command_info))
                .collect(),
        )
    } else {
        Reply::err(format!(
            "unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(&sub)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(db: &mut Db, now: Instant, line: &str) -> Reply {
        let args: Vec<Value> = line
            .split(' ')
            .map(|a| Value::One(Bytes::copy_from_slice(a.as_bytes())))
            .collect();
        execute(db, &args, now).0
    }

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Value::One(Bytes::copy_from_slice(s.as_bytes())))
    }

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
        let Reply::Array(docs) = run(&mut db, t, "COMMAND DOCS") else {
            panic!("COMMAND DOCS is an array");
        };
        assert_eq!(docs.len(), 2 * COMMANDS.len());
        assert_eq!(
            run(&mut db, t, "COMMAND COUNT"),
            Reply::Integer(COMMANDS.len() as i64)
        );
        let Reply::Array(info) = run(&mut db, t, "COMMAND INFO get nope") else {
            panic!("COMMAND INFO is an array");
        };
        assert_eq!(info[1], Reply::Nil);
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
