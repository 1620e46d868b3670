//! The command table: every command served, its Redis arity, flags, key
//! positions and documentation, and `COMMAND`, which reports them in Redis
//! 7's reply shapes.

use std::time::Instant;

use super::super::db::Db;
use super::super::reply::Reply;
use super::super::value::Value;
use super::session::{self, Session};
use super::{expiry, glob, keyspace, lcs, server, set, strings, syntax_error};

/// One command this server knows: name, Redis arity (`n` exactly, `-n` at
/// least), flags, first/last/step key positions, summary, group.
pub(super) struct Spec {
    pub(super) name: &'static str,
    pub(super) arity: i64,
    write: bool,
    keys: (i64, i64, i64),
    /// Runs the command; the arity is checked before.
    pub(super) run: Run,
    summary: &'static str,
    group: &'static str,
}

/// A command's function: the request (name first) against the key space
/// at a time, and for the connection's own commands its [`Session`] too.
#[derive(Clone, Copy)]
pub(super) enum Run {
    Db(fn(&mut Db, &[Value], Instant) -> Reply),
    Session(fn(&mut Session, &mut Db, &[Value], Instant) -> Reply),
}

const fn spec(
    name: &'static str,
    arity: i64,
    write: bool,
    keys: (i64, i64, i64),
    run: fn(&mut Db, &[Value], Instant) -> Reply,
    summary: &'static str,
    group: &'static str,
) -> Spec {
    Spec {
        name,
        arity,
        write,
        keys,
        run: Run::Db(run),
        summary,
        group,
    }
}

/// A command of the connection itself (it needs the [`Session`]).
const fn conn(
    name: &'static str,
    arity: i64,
    run: fn(&mut Session, &mut Db, &[Value], Instant) -> Reply,
    summary: &'static str,
) -> Spec {
    Spec {
        name,
        arity,
        write: false,
        keys: NO_KEYS,
        run: Run::Session(run),
        summary,
        group: "connection",
    }
}

const NO_KEYS: (i64, i64, i64) = (0, 0, 0);
const ONE_KEY: (i64, i64, i64) = (1, 1, 1);

/// Every command served, in the order `COMMAND` lists them: name, arity,
/// writes?, key positions, function, summary, group.
#[rustfmt::skip]
const COMMANDS: &[Spec] = &[
    spec("ping", -1, false, NO_KEYS, server::ping, "Returns the server's liveliness response.", "connection"),
    spec("echo", 2, false, NO_KEYS, server::echo, "Returns the given string.", "connection"),
    spec("quit", -1, false, NO_KEYS, server::quit, "Closes the connection.", "connection"),
    spec("select", 2, false, NO_KEYS, server::select, "Changes the selected database (only 0 exists).", "connection"),
    spec("get", 2, false, ONE_KEY, strings::get, "Returns the string value of a key.", "string"),
    spec("set", -3, true, ONE_KEY, set::set, "Sets the string value of a key, ignoring its type.", "string"),
    spec("del", -2, true, (1, -1, 1), keyspace::del, "Deletes one or more keys.", "generic"),
    spec("exists", -2, false, (1, -1, 1), keyspace::exists, "Determines whether one or more keys exist.", "generic"),
    spec("incr", 2, true, ONE_KEY, strings::incr, "Increments the integer value of a key by one.", "string"),
    spec("decr", 2, true, ONE_KEY, strings::decr, "Decrements the integer value of a key by one.", "string"),
    spec("incrby", 3, true, ONE_KEY, strings::incrby, "Increments the integer value of a key by a number.", "string"),
    spec("decrby", 3, true, ONE_KEY, strings::decrby, "Decrements a number from the integer value of a key.", "string"),
    spec("mget", -2, false, (1, -1, 1), strings::mget, "Atomically returns the string values of one or more keys.", "string"),
    spec("mset", -3, true, (1, -1, 2), set::mset, "Atomically creates or modifies the string values of one or more keys.", "string"),
    spec("append", 3, true, ONE_KEY, strings::append, "Appends a string to the value of a key.", "string"),
    spec("strlen", 2, false, ONE_KEY, strings::strlen, "Returns the length of a string value.", "string"),
    spec("expire", -3, true, ONE_KEY, expiry::expire, "Sets the expiration time of a key in seconds.", "generic"),
    spec("pexpire", -3, true, ONE_KEY, expiry::pexpire, "Sets the expiration time of a key in milliseconds.", "generic"),
    spec("ttl", 2, false, ONE_KEY, expiry::ttl, "Returns the expiration time in seconds of a key.", "generic"),
    spec("pttl", 2, false, ONE_KEY, expiry::pttl, "Returns the expiration time in milliseconds of a key.", "generic"),
    spec("persist", 2, true, ONE_KEY, expiry::persist, "Removes the expiration time of a key.", "generic"),
    spec("setnx", 3, true, ONE_KEY, set::setnx, "Set the string value of a key only when the key doesn't exist.", "string"),
    spec("setex", 4, true, ONE_KEY, set::setex, "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "string"),
    spec("psetex", 4, true, ONE_KEY, set::psetex, "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", "string"),
    spec("getex", -2, true, ONE_KEY, set::getex, "Returns the string value of a key after setting its expiration time.", "string"),
    spec("getdel", 2, true, ONE_KEY, strings::getdel, "Returns the string value of a key after deleting the key.", "string"),
    spec("getrange", 4, false, ONE_KEY, strings::getrange, "Returns a substring of the string stored at a key.", "string"),
    spec("substr", 4, false, ONE_KEY, strings::getrange, "Returns a substring from a string value.", "string"),
    spec("setrange", 4, true, ONE_KEY, strings::setrange, "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", "string"),
    spec("incrbyfloat", 3, true, ONE_KEY, strings::incrbyfloat, "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "string"),
    spec("lcs", -3, false, (1, 2, 1), lcs::lcs, "Finds the longest common substring.", "string"),
    spec("msetnx", -3, true, (1, -1, 2), set::msetnx, "Atomically modifies the string values of one or more keys only when all keys don't exist.", "string"),
    spec("expireat", -3, true, ONE_KEY, expiry::expireat, "Sets the expiration time of a key to a Unix timestamp.", "generic"),
    spec("pexpireat", -3, true, ONE_KEY, expiry::pexpireat, "Sets the expiration time of a key to a Unix milliseconds timestamp.", "generic"),
    spec("expiretime", 2, false, ONE_KEY, expiry::expiretime, "Returns the expiration time of a key as a Unix timestamp.", "generic"),
    spec("pexpiretime", 2, false, ONE_KEY, expiry::pexpiretime, "Returns the expiration time of a key as a Unix milliseconds timestamp.", "generic"),
    spec("unlink", -2, true, (1, -1, 1), keyspace::del, "Asynchronously deletes one or more keys.", "generic"),
    spec("touch", -2, false, (1, -1, 1), keyspace::exists, "Returns the number of existing keys out of those specified after updating the time they were last accessed.", "generic"),
    spec("type", 2, false, ONE_KEY, keyspace::type_of, "Determines the type of value stored at a key.", "generic"),
    spec("rename", 3, true, (1, 2, 1), keyspace::rename, "Renames a key and overwrites the destination.", "generic"),
    spec("renamenx", 3, true, (1, 2, 1), keyspace::renamenx, "Renames a key only when the target key name doesn't exist.", "generic"),
    spec("copy", -3, true, (1, 2, 1), keyspace::copy, "Copies the value of a key to a new key.", "generic"),
    spec("keys", 2, false, NO_KEYS, keyspace::keys, "Returns all key names that match a pattern.", "generic"),
    spec("scan", -2, false, NO_KEYS, keyspace::scan, "Iterates over the key names in the database.", "generic"),
    spec("object", -2, false, NO_KEYS, keyspace::object, "A container for object introspection commands.", "generic"),
    spec("randomkey", 1, false, NO_KEYS, keyspace::randomkey, "Returns a random key name from the database.", "generic"),
    conn("multi", 1, session::multi, "Starts a transaction."),
    conn("exec", 1, session::exec, "Executes all commands in a transaction."),
    conn("discard", 1, session::discard, "Discards a transaction."),
    Spec { keys: (1, -1, 1), ..conn("watch", -2, session::watch, "Monitors changes to keys to determine the execution of a transaction.") },
    conn("unwatch", 1, session::unwatch, "Forgets about watched keys of a transaction."),
    conn("client", -2, session::client, "A container for client connection commands."),
    conn("hello", -1, session::hello, "Handshakes with the Redis server."),
    spec("info", -1, false, NO_KEYS, server::info, "Returns information and statistics about the server.", "server"),
    spec("function", -2, true, NO_KEYS, server::function, "A container for function commands.", "scripting"),
    spec("script", -2, false, NO_KEYS, server::script, "A container for Lua scripts management commands.", "scripting"),
    spec("dbsize", 1, false, NO_KEYS, keyspace::dbsize, "Returns the number of keys in the database.", "server"),
    spec("flushall", -1, true, NO_KEYS, keyspace::flush, "Removes all keys from all databases.", "server"),
    spec("flushdb", -1, true, NO_KEYS, keyspace::flush, "Remove all keys from the current database.", "server"),
    spec("config", -2, false, NO_KEYS, server::config, "A container for server configuration commands.", "server"),
    spec("command", -1, false, NO_KEYS, command, "Returns detailed information about all commands.", "server"),
];

/// The subcommands of the container commands, with their Redis arity
/// (counting the container's name): Redis 7 checks them, as commands of
/// their own, before running or queueing the request.
const SUBCOMMANDS: &[(&str, &[(&str, i64)])] = &[
    (
        "client",
        &[
            ("id", 2),
            ("getname", 2),
            ("setname", 3),
            ("list", -2),
            ("info", 2),
        ],
    ),
    (
        "command",
        &[
            ("count", 2),
            ("docs", -2),
            ("info", -2),
            ("list", -2),
            ("getkeys", -4),
        ],
    ),
    ("config", &[("get", -3), ("set", -4), ("resetstat", 2)]),
    ("function", &[("flush", -2)]),
    ("script", &[("flush", -2)]),
    ("object", &[("encoding", 3)]),
];

/// Checks the subcommand of a container command (`CLIENT SETNAME ...`):
/// that it exists and has the right number of arguments.
/// Returns the subcommand's name.
pub(super) fn check_subcommand(spec: &Spec, args: &[Value]) -> Result<Option<&'static str>, Reply> {
    let Some((_, subs)) = SUBCOMMANDS.iter().find(|(n, _)| *n == spec.name) else {
        return Ok(None);
    };
    let Some(sub) = args.get(1) else {
        return Ok(None);
    };
    let Some((name, arity)) = subs.iter().find(|(n, _)| sub.eq_ignore_case(n.as_bytes())) else {
        return Err(Reply::err(format!(
            "unknown subcommand '{}'. Try {} HELP.",
            String::from_utf8_lossy(&sub.to_bytes()),
            spec.name.to_ascii_uppercase()
        )));
    };
    let argc = args.len() as i64;
    if (*arity > 0 && argc != *arity) || argc < -arity {
        return Err(super::wrong_arity(&format!("{}|{name}", spec.name)));
    }
    Ok(Some(name))
}

/// The command named by `name`, any case. The name is lowered once into a
/// stack buffer, so each candidate costs a length check and at most one
/// short compare.
pub(super) fn find(name: &Value) -> Option<&'static Spec> {
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

/// The ACL categories of a command, from its flags and group (Redis
/// lists more, e.g. `@fast`/`@slow`, which this table does not know).
fn categories(s: &Spec) -> Vec<&'static str> {
    let mut c = vec![if s.write { "@write" } else { "@read" }];
    c.push(match s.group {
        "string" => "@string",
        "generic" => "@keyspace",
        "connection" => "@connection",
        "scripting" => "@scripting",
        _ => "@admin",
    });
    c
}

/// The key spec Redis 7 derives from first/last/step positions.
fn key_specs(s: &Spec) -> Vec<Reply> {
    let (first, last, step) = s.keys;
    if first == 0 {
        return vec![];
    }
    let last = if last < 0 { last } else { last - first };
    vec![Reply::Array(vec![
        Reply::text("flags"),
        Reply::Array(vec![Reply::Simple(if s.write { "RW" } else { "RO" })]),
        Reply::text("begin_search"),
        Reply::Array(vec![
            Reply::text("type"),
            Reply::text("index"),
            Reply::text("spec"),
            Reply::Array(vec![Reply::text("index"), Reply::Integer(first)]),
        ]),
        Reply::text("find_keys"),
        Reply::Array(vec![
            Reply::text("type"),
            Reply::text("range"),
            Reply::text("spec"),
            Reply::Array(vec![
                Reply::text("lastkey"),
                Reply::Integer(last),
                Reply::text("keystep"),
                Reply::Integer(step),
                Reply::text("limit"),
                Reply::Integer(0),
            ]),
        ]),
    ])]
}

/// `COMMAND INFO`'s ten fields, as Redis 7 shapes them: name, arity,
/// flags, first/last/step key, ACL categories, tips, key specs,
/// subcommands (each in the same shape, named `container|sub`).
fn command_info(s: &Spec) -> Reply {
    let flags = if s.write { "write" } else { "readonly" };
    let subs = SUBCOMMANDS
        .iter()
        .find(|(n, _)| *n == s.name)
        .map_or(&[][..], |(_, subs)| *subs);
    let text = |t: String| Reply::Bulk(Value::One(bytes::Bytes::from(t)));
    Reply::Array(vec![
        Reply::text(s.name),
        Reply::Integer(s.arity),
        Reply::Array(vec![Reply::Simple(flags)]),
        Reply::Integer(s.keys.0),
        Reply::Integer(s.keys.1),
        Reply::Integer(s.keys.2),
        Reply::Array(categories(s).into_iter().map(Reply::text).collect()),
        Reply::Array(vec![]),
        Reply::Array(key_specs(s)),
        Reply::Array(
            subs.iter()
                .map(|(sub, arity)| {
                    Reply::Array(vec![
                        text(format!("{}|{sub}", s.name)),
                        Reply::Integer(*arity),
                        Reply::Array(vec![Reply::Simple(flags)]),
                        Reply::Integer(0),
                        Reply::Integer(0),
                        Reply::Integer(0),
                        Reply::Array(categories(s).into_iter().map(Reply::text).collect()),
                        Reply::Array(vec![]),
                        Reply::Array(vec![]),
                        Reply::Array(vec![]),
                    ])
                })
                .collect(),
        ),
    ])
}

/// `COMMAND GETKEYS command [arg ...]`: the keys of a request, by its
/// command's key positions.
fn getkeys(args: &[Value]) -> Reply {
    let Some(spec) = find(&args[0]) else {
        return Reply::err("Invalid command specified");
    };
    // Redis' order: the command, whether it has keys, then its arity.
    let (first, last, step) = spec.keys;
    if first == 0 {
        return Reply::err("The command has no key arguments");
    }
    let argc = args.len() as i64;
    if (spec.arity > 0 && argc != spec.arity) || argc < -spec.arity {
        return Reply::err("Invalid number of arguments specified for command");
    }
    let last = if last < 0 {
        argc + last
    } else {
        last.min(argc - 1)
    };
    let mut keys = Vec::new();
    let mut i = first;
    while i <= last && i < argc {
        keys.push(Reply::Bulk(args[i as usize].clone()));
        i += step.max(1);
    }
    Reply::Array(keys)
}

/// `COMMAND LIST [FILTERBY MODULE name|ACLCAT category|PATTERN pattern]`.
fn list(args: &[Value]) -> Reply {
    let names = |keep: &dyn Fn(&Spec) -> bool| {
        Reply::Array(
            COMMANDS
                .iter()
                .filter(|s| keep(s))
                .map(|s| Reply::text(s.name))
                .collect(),
        )
    };
    match args {
        [] => names(&|_| true),
        [by, kind, what] if by.eq_ignore_case(b"filterby") => {
            let what = what.to_bytes();
            if kind.eq_ignore_case(b"module") {
                names(&|_| false)
            } else if kind.eq_ignore_case(b"aclcat") {
                names(&|s| {
                    categories(s)
                        .iter()
                        .any(|c| c.as_bytes()[1..].eq_ignore_ascii_case(&what))
                })
            } else if kind.eq_ignore_case(b"pattern") {
                names(&|s| glob::matches(&what, s.name.as_bytes(), true))
            } else {
                syntax_error()
            }
        }
        _ => syntax_error(),
    }
}

/// A command's entry of `COMMAND DOCS`: its name and a map of its docs.
fn command_docs(s: &Spec) -> (Reply, Reply) {
    (
        Reply::text(s.name),
        Reply::Map(vec![
            (Reply::text("summary"), Reply::text(s.summary)),
            (Reply::text("since"), Reply::text("1.0.0")),
            (Reply::text("group"), Reply::text(s.group)),
        ]),
    )
}

/// `COMMAND [COUNT|DOCS [name...]|INFO [name...]|LIST [FILTERBY ...]|GETKEYS
/// command arg...]`.
pub(super) fn command(_db: &mut Db, args: &[Value], _now: Instant) -> Reply {
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
        Reply::Map(specs.into_iter().map(command_docs).collect())
    } else if sub.eq_ignore_ascii_case(b"getkeys") {
        getkeys(&args[2..])
    } else if sub.eq_ignore_ascii_case(b"list") {
        list(&args[2..])
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
    use super::super::test_support::run;
    use super::*;

    #[test]
    fn command_describes_the_table() {
        let mut db = Db::new();
        let t = Instant::now();
        let Reply::Map(docs) = run(&mut db, t, "COMMAND DOCS") else {
            panic!("COMMAND DOCS is a map");
        };
        assert_eq!(docs.len(), COMMANDS.len());
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
    fn command_info_has_redis_7s_ten_fields_and_getkeys_finds_the_keys() {
        let mut db = Db::new();
        let t = Instant::now();
        let Reply::Array(info) = run(&mut db, t, "COMMAND INFO mset") else {
            panic!("COMMAND INFO is an array");
        };
        let Reply::Array(mset) = &info[0] else {
            panic!("one array per command");
        };
        assert_eq!(mset.len(), 10);
        assert_eq!(mset[1], Reply::Integer(-3));
        assert_eq!(
            mset[6],
            Reply::Array(vec![Reply::text("@write"), Reply::text("@string")])
        );
        let keys = |line: &str, db: &mut Db| run(db, t, line);
        assert_eq!(
            keys("COMMAND GETKEYS MSET a 1 b 2", &mut db),
            Reply::Array(vec![
                Reply::Bulk(Value::from(&b"a"[..])),
                Reply::Bulk(Value::from(&b"b"[..]))
            ])
        );
        assert_eq!(
            keys("COMMAND GETKEYS nosuch x", &mut db),
            Reply::err("Invalid command specified")
        );
        assert_eq!(
            keys("COMMAND GETKEYS get a b", &mut db),
            Reply::err("Invalid number of arguments specified for command")
        );
        assert_eq!(
            keys("COMMAND GETKEYS get", &mut db),
            Reply::err("wrong number of arguments for 'command|getkeys' command")
        );
        assert_eq!(
            keys("COMMAND GETKEYS ping x", &mut db),
            Reply::err("The command has no key arguments")
        );
        let Reply::Array(strings) = run(&mut db, t, "COMMAND LIST FILTERBY ACLCAT string") else {
            panic!("COMMAND LIST is an array");
        };
        assert!(strings.contains(&Reply::text("getrange")));
        assert!(!strings.contains(&Reply::text("del")));
        assert_eq!(run(&mut db, t, "COMMAND LIST FOO"), syntax_error());
    }
}
