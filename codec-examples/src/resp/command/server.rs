//! The connection and the server: `PING`, `ECHO`, `QUIT`, `SELECT`,
//! `CONFIG`, `INFO`, and `FUNCTION FLUSH`/`SCRIPT FLUSH` (accepted: this
//! server keeps no functions or scripts, so there is nothing to flush).

use std::time::Instant;

use super::super::db::Db;
use super::super::reply::Reply;
use super::super::value::Value;
use super::{glob, not_an_integer, syntax_error, wrong_arity};

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
        // As Redis 7: a plain name is answered under the name as asked,
        // a pattern under the parameters' own names; each parameter once.
        let mut out: Vec<(Reply, Reply)> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for p in &args[2..] {
            let p = p.to_bytes();
            let plain = !p.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
            for (name, value) in CONFIG {
                let hit = if plain {
                    p.eq_ignore_ascii_case(name.as_bytes())
                } else {
                    glob::matches(&p, name.as_bytes(), true)
                };
                if hit && !seen.contains(name) {
                    seen.push(name);
                    let shown = if plain {
                        Reply::Bulk(Value::One(p.clone()))
                    } else {
                        Reply::text(name)
                    };
                    out.push((shown, Reply::text(value)));
                }
            }
        }
        Reply::Map(out)
    } else if sub.eq_ignore_ascii_case(b"set") {
        config_set(&args[2..])
    } else if sub.eq_ignore_ascii_case(b"resetstat") {
        Reply::Simple("OK")
    } else {
        Reply::err(format!(
            "unknown subcommand '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(&sub)
        ))
    }
}

/// `CONFIG SET name value [name value ...]`, checked as Redis 7 checks it
/// (pairs, known names, no name twice). This server's parameters are fixed,
/// so setting one to the value it has is accepted and anything else is
/// refused with Redis' message for a parameter that cannot change.
fn config_set(pairs: &[Value]) -> Reply {
    if pairs.len() % 2 != 0 {
        return syntax_error();
    }
    let mut seen: Vec<&str> = Vec::new();
    for pair in pairs.chunks_exact(2) {
        let name = pair[0].to_bytes();
        let Some((known, value)) = CONFIG
            .iter()
            .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(&name))
        else {
            return Reply::err(format!(
                "Unknown option or number of arguments for CONFIG SET - '{}'",
                String::from_utf8_lossy(&name)
            ));
        };
        if seen.contains(known) {
            return Reply::err(format!(
                "CONFIG SET failed (possibly related to argument '{known}') - duplicate parameter"
            ));
        }
        seen.push(known);
        if pair[1] != value.as_bytes() {
            return Reply::err(format!(
                "CONFIG SET failed (possibly related to argument '{known}') - can't set immutable config"
            ));
        }
    }
    Reply::Simple("OK")
}

/// `INFO [section ...]`: the `server`, `clients`, `memory`, `stats` and
/// `keyspace` sections (all of them for none, `default`, `all` or
/// `everything`), in Redis' `field:value` layout with real figures. The
/// memory figures cost O(keys): `used_memory` is the bytes of keys and
/// values held, `used_memory_rss` the process' resident set.
pub(super) fn info(db: &mut Db, args: &[Value], now: Instant) -> Reply {
    const SECTIONS: [&str; 5] = ["server", "clients", "memory", "stats", "keyspace"];
    let all = args.len() == 1
        || args[1..].iter().any(|a| {
            a.eq_ignore_case(b"default")
                || a.eq_ignore_case(b"all")
                || a.eq_ignore_case(b"everything")
        });
    let wanted = |name: &str| all || args[1..].iter().any(|a| a.eq_ignore_case(name.as_bytes()));
    let mut out = String::new();
    for section in SECTIONS.into_iter().filter(|s| wanted(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let s = &db.stats;
        let fields: Vec<(&str, String)> = match section {
            "server" => {
                let up = now.saturating_duration_since(s.started).as_secs();
                vec![
                    ("redis_version", super::REDIS_VERSION.into()),
                    ("redis_mode", "standalone".into()),
                    (
                        "os",
                        format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
                    ),
                    ("arch_bits", (usize::BITS).to_string()),
                    ("process_id", std::process::id().to_string()),
                    ("tcp_port", s.tcp_port.to_string()),
                    ("uptime_in_seconds", up.to_string()),
                    ("uptime_in_days", (up / 86_400).to_string()),
                ]
            }
            "clients" => vec![("connected_clients", s.connected_clients.to_string())],
            "memory" => {
                let used: usize = db.live(now).map(|(k, e)| k.len() + e.value.len()).sum();
                vec![
                    ("used_memory", used.to_string()),
                    ("used_memory_rss", resident_bytes().to_string()),
                    ("maxmemory", "0".into()),
                    ("maxmemory_policy", "noeviction".into()),
                ]
            }
            "stats" => vec![
                (
                    "total_connections_received",
                    s.connections_received.to_string(),
                ),
                ("total_commands_processed", s.commands_processed.to_string()),
                ("expired_keys", s.expired_keys.to_string()),
                ("evicted_keys", "0".into()),
            ],
            _ => {
                let (mut keys, mut expires) = (0, 0);
                for (_, e) in db.live(now) {
                    keys += 1;
                    expires += usize::from(e.expires_at.is_some());
                }
                if keys == 0 {
                    vec![]
                } else {
                    vec![("db0", format!("keys={keys},expires={expires},avg_ttl=0"))]
                }
            }
        };
        let mut title = section.to_string();
        title[..1].make_ascii_uppercase();
        out.push_str(&format!("# {title}\r\n"));
        for (k, v) in fields {
            out.push_str(&format!("{k}:{v}\r\n"));
        }
    }
    Reply::Verbatim(Value::One(bytes::Bytes::from(out)))
}

/// The process' resident set in bytes (`VmRSS` of `/proc/self/status`), 0
/// where that file does not exist.
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// `FUNCTION FLUSH [ASYNC|SYNC]`: there are no functions; accepted.
pub(super) fn function(_db: &mut Db, args: &[Value], _now: Instant) -> Reply {
    match args {
        [_, _] => Reply::Simple("OK"),
        [_, _, m] if m.eq_ignore_case(b"sync") || m.eq_ignore_case(b"async") => Reply::Simple("OK"),
        [_, _, _] => Reply::err("FUNCTION FLUSH only supports SYNC|ASYNC option"),
        _ => Reply::err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
            String::from_utf8_lossy(&args[1].to_bytes())
        )),
    }
}

/// `SCRIPT FLUSH [ASYNC|SYNC]`: there are no scripts; accepted.
pub(super) fn script(_db: &mut Db, args: &[Value], _now: Instant) -> Reply {
    match args {
        [_, _] => Reply::Simple("OK"),
        [_, _, m] if m.eq_ignore_case(b"sync") || m.eq_ignore_case(b"async") => Reply::Simple("OK"),
        _ => Reply::err("SCRIPT FLUSH only support SYNC|ASYNC option"),
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
            Reply::Map(vec![(bulk("save"), bulk(""))])
        );
        assert_eq!(
            run(&mut db, t, "CONFIG GET appendonly"),
            Reply::Map(vec![(bulk("appendonly"), bulk("no"))])
        );
        assert_eq!(run(&mut db, t, "CONFIG GET nothing"), Reply::Map(vec![]));
    }

    #[test]
    fn info_reports_real_figures_by_section() {
        let mut db = Db::new();
        let t = Instant::now();
        run(&mut db, t, "SET a 12345 EX 100");
        run(&mut db, t, "SET bb v");
        let Reply::Verbatim(all) = run(&mut db, t, "INFO") else {
            panic!("INFO is a bulk")
        };
        let all = String::from_utf8_lossy(&all.to_bytes()).into_owned();
        for want in [
            "# Server\r\nredis_version:7.0.0\r\n",
            "\r\n# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n",
            "used_memory:9\r\n",
            &format!("process_id:{}\r\n", std::process::id()),
        ] {
            assert!(all.contains(want), "{want:?} in {all}");
        }
        let Reply::Verbatim(stats) = run(&mut db, t, "INFO STATS keyspace") else {
            panic!("INFO is a bulk")
        };
        let stats = String::from_utf8_lossy(&stats.to_bytes()).into_owned();
        assert!(stats.starts_with("# Stats\r\n"), "{stats}");
        assert!(stats.contains("total_commands_processed:3\r\n"), "{stats}");
        assert!(!stats.contains("# Server"));
        assert_eq!(
            run(&mut db, t, "INFO nosuch"),
            Reply::Verbatim(Value::from(&b""[..]))
        );
    }

    #[test]
    fn function_and_script_flush_are_accepted() {
        let mut db = Db::new();
        let t = Instant::now();
        assert_eq!(run(&mut db, t, "FUNCTION FLUSH"), Reply::Simple("OK"));
        assert_eq!(run(&mut db, t, "SCRIPT FLUSH ASYNC"), Reply::Simple("OK"));
        assert_eq!(
            run(&mut db, t, "FUNCTION FLUSH x"),
            Reply::err("FUNCTION FLUSH only supports SYNC|ASYNC option")
        );
        assert_eq!(
            run(&mut db, t, "SCRIPT LOAD x"),
            Reply::err("unknown subcommand 'LOAD'. Try SCRIPT HELP.")
        );
    }

    #[test]
    fn config_set_accepts_the_values_in_force_and_refuses_changes() {
        let mut db = Db::new();
        let t = Instant::now();
        assert_eq!(
            run(&mut db, t, "CONFIG SET maxmemory 0 appendonly no"),
            Reply::Simple("OK")
        );
        assert_eq!(
            run(&mut db, t, "CONFIG SET nosuch 1"),
            Reply::err("Unknown option or number of arguments for CONFIG SET - 'nosuch'")
        );
        assert_eq!(
            run(&mut db, t, "CONFIG SET databases 16"),
            Reply::err(
                "CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"
            )
        );
        assert_eq!(
            run(&mut db, t, "CONFIG SET maxmemory 0 maxmemory 0"),
            Reply::err(
                "CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter"
            )
        );
        assert_eq!(
            run(&mut db, t, "CONFIG SET maxmemory 0 save"),
            syntax_error()
        );
        assert_eq!(
            run(&mut db, t, "CONFIG SET maxmemory"),
            Reply::err("wrong number of arguments for 'config|set' command")
        );
    }
}
