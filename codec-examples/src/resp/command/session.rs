//! What one connection carries between its requests: its id and name
//! (`CLIENT ID|SETNAME|GETNAME`, `HELLO`), and a transaction in progress
//! (`MULTI`, `EXEC`, `DISCARD`, `WATCH`, `UNWATCH`).
//!
//! A transaction queues its requests (arguments are slices of the reads,
//! so queueing copies no byte) and runs them all under the one lock of the
//! key space that `EXEC`'s batch holds, so no other connection's command
//! runs in between. `WATCH` reads a per-key modification count the key
//! space keeps only for watched keys; `EXEC` aborts (a null array) when one
//! moved, including by expiry, as Redis 7 does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;

use super::super::db::Db;
use super::super::reply::Reply;
use super::super::value::Value;
use super::{key, wrong_arity};

/// The Redis version this server answers as (`HELLO`): the one whose
/// replies it follows.
pub const REDIS_VERSION: &str = "7.0.0";

/// Connection ids, as Redis': unique, increasing, starting at 1.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One connection's state between requests.
///
/// # Examples
///
/// ```
/// use std::time::Instant;
/// use weft_examples::resp::command::{execute_in, Session};
/// use weft_examples::resp::{db::Db, reply::Reply, value::Value};
///
/// let (mut s, mut db, now) = (Session::new(), Db::new(), Instant::now());
/// let mut run = |words: &[&'static str]| {
///     let args: Vec<Value> = words.iter().map(|w| Value::from(w.as_bytes())).collect();
///     execute_in(&mut s, &mut db, &args, now).0
/// };
/// assert_eq!(run(&["MULTI"]), Reply::Simple("OK"));
/// assert_eq!(run(&["INCR", "n"]), Reply::Simple("QUEUED"));
/// assert_eq!(run(&["EXEC"]), Reply::Array(vec![Reply::Integer(1)]));
/// ```
#[derive(Debug)]
pub struct Session {
    id: u64,
    name: Option<Bytes>,
    /// The requests of a transaction, while one is open.
    queued: Option<Vec<Vec<Value>>>,
    /// A request was refused while queueing: `EXEC` aborts.
    dirty: bool,
    /// Watched keys and the modification count each had.
    watching: Vec<(Bytes, u64)>,
    /// The last command run, and its subcommand (`CLIENT LIST`'s `cmd`).
    pub(super) last_cmd: (&'static str, Option<&'static str>),
    /// The protocol `HELLO` chose: 2 or 3.
    protocol: u8,
}

impl Default for Session {
    fn default() -> Session {
        Session::new()
    }
}

impl Session {
    /// A new connection's state, with the next connection id.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::resp::command::Session;
    /// assert!(Session::new().id() < Session::new().id());
    /// ```
    pub fn new() -> Session {
        Session {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: None,
            queued: None,
            dirty: false,
            watching: Vec::new(),
            last_cmd: ("NULL", None),
            protocol: 2,
        }
    }

    /// The connection id (`CLIENT ID`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(weft_examples::resp::command::Session::new().id() > 0);
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The protocol replies are encoded in: 2, or 3 after `HELLO 3`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_examples::resp::command::Session::new().protocol(), 2);
    /// ```
    pub fn protocol(&self) -> u8 {
        self.protocol
    }

    /// Forgets this connection's watches (it is closing).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut db = weft_examples::resp::db::Db::new();
    /// weft_examples::resp::command::Session::new().release(&mut db);
    /// ```
    pub fn release(&mut self, db: &mut Db) {
        for (k, _) in self.watching.drain(..) {
            db.unwatch(&k);
        }
    }

    /// Brings this connection's line of `CLIENT LIST` up to date with what
    /// it ran at `now` (once per read batch).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    /// use weft_examples::resp::{command::Session, db::Db, stats::ClientInfo};
    /// let (s, mut db, now) = (Session::new(), Db::new(), Instant::now());
    /// db.stats.clients.insert(s.id(), ClientInfo::new(None, None, now));
    /// s.report(&mut db, now);
    /// ```
    pub fn report(&self, db: &mut Db, now: Instant) {
        if let Some(c) = db.stats.clients.get_mut(&self.id) {
            c.last = now;
            c.cmd = self.last_cmd;
            c.multi = self.queued.as_ref().map(Vec::len);
            if c.name != self.name {
                c.name.clone_from(&self.name);
            }
        }
    }

    pub(super) fn in_transaction(&self) -> bool {
        self.queued.is_some()
    }

    /// Queues a request of the open transaction.
    pub(super) fn queue(&mut self, args: &[Value]) {
        if let Some(q) = &mut self.queued {
            q.push(args.to_vec());
        }
    }

    /// Ends an open transaction without running it.
    pub(super) fn abort(&mut self, db: &mut Db) {
        self.queued = None;
        self.dirty = false;
        self.release(db);
    }

    /// A request was refused: an open transaction can no longer run.
    pub(super) fn refuse(&mut self) {
        if self.queued.is_some() {
            self.dirty = true;
        }
    }
}

pub(super) fn multi(s: &mut Session, _db: &mut Db, _args: &[Value], _now: Instant) -> Reply {
    if s.queued.is_some() {
        return Reply::err("MULTI calls can not be nested");
    }
    s.queued = Some(Vec::new());
    Reply::Simple("OK")
}

pub(super) fn discard(s: &mut Session, db: &mut Db, _args: &[Value], _now: Instant) -> Reply {
    if s.queued.take().is_none() {
        return Reply::err("DISCARD without MULTI");
    }
    s.dirty = false;
    s.release(db);
    Reply::Simple("OK")
}

/// `EXEC`: every queued request's reply, or `EXECABORT` when one was
/// refused while queueing, or a null array when a watched key changed.
pub(super) fn exec(s: &mut Session, db: &mut Db, _args: &[Value], now: Instant) -> Reply {
    let Some(queued) = s.queued.take() else {
        return Reply::err("EXEC without MULTI");
    };
    let dirty = std::mem::take(&mut s.dirty);
    // Reading each watched key first lets a deadline that passed count as
    // a change, as in Redis 7.
    let changed = s.watching.iter().any(|(k, version)| {
        db.get(k, now);
        db.version(k) != *version
    });
    s.release(db);
    if dirty {
        return Reply::Error("EXECABORT Transaction discarded because of previous errors.".into());
    }
    if changed {
        return Reply::NilArray;
    }
    Reply::Array(
        queued
            .iter()
            .map(|args| super::execute_in(s, db, args, now).0)
            .collect(),
    )
}

pub(super) fn watch(s: &mut Session, db: &mut Db, args: &[Value], now: Instant) -> Reply {
    if s.queued.is_some() {
        return Reply::err("WATCH inside MULTI is not allowed");
    }
    for k in &args[1..] {
        let k = key(k);
        if s.watching.iter().any(|(w, _)| *w == k) {
            continue;
        }
        // A deadline already passed is not a change made after WATCH.
        db.get(&k, now);
        let version = db.watch(k.clone());
        s.watching.push((k, version));
    }
    Reply::Simple("OK")
}

pub(super) fn unwatch(s: &mut Session, db: &mut Db, _args: &[Value], _now: Instant) -> Reply {
    s.release(db);
    Reply::Simple("OK")
}

/// `CLIENT LIST` (every connection, or by `TYPE`/`ID`) and `CLIENT INFO`
/// (this one): a line per connection. This connection's own line shows the
/// command running now, as in Redis.
fn client_list(s: &mut Session, db: &mut Db, args: &[Value], now: Instant) -> Reply {
    s.report(db, now);
    let info = args[1].eq_ignore_case(b"info");
    let mut ids: Option<Vec<u64>> = info.then(|| vec![s.id]);
    let mut normal = true;
    // Redis' shapes: `TYPE t` exactly, or `ID id [id ...]`.
    match &args[2..] {
        [] => {}
        [by, t] if !info && by.eq_ignore_case(b"type") => {
            normal = t.eq_ignore_case(b"normal");
            let known = ["normal", "master", "replica", "slave", "pubsub"];
            if !known.iter().any(|k| t.eq_ignore_case(k.as_bytes())) {
                return Reply::err(format!(
                    "Unknown client type '{}'",
                    String::from_utf8_lossy(&t.to_bytes())
                ));
            }
        }
        [by, rest @ ..] if !info && !rest.is_empty() && by.eq_ignore_case(b"id") => {
            let mut wanted = Vec::new();
            for a in rest {
                // Any 64-bit integer is an id to look for (none is <= 0).
                match a.to_i64() {
                    Some(n) => wanted.extend(u64::try_from(n).ok()),
                    None => return Reply::err("Invalid client ID"),
                }
            }
            ids = Some(wanted);
        }
        _ => return super::syntax_error(),
    }
    let mut out = String::new();
    for (id, c) in &db.stats.clients {
        if !normal || ids.as_ref().is_some_and(|ids| !ids.contains(id)) {
            continue;
        }
        let mut c = c.clone();
        if *id == s.id {
            c.cmd = ("client", Some(if info { "info" } else { "list" }));
        }
        out.push_str(&c.line(*id, now));
    }
    Reply::Verbatim(Value::One(Bytes::from(out)))
}

/// Sets the connection name as Redis' `clientSetNameOrReply` does: an
/// empty name clears it; spaces, newlines and other bytes outside `!`..`~`
/// are refused.
fn set_name(s: &mut Session, name: &Value) -> Result<(), Reply> {
    let name = name.to_bytes();
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(Reply::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    s.name = (!name.is_empty()).then_some(name);
    Ok(())
}

/// `CLIENT ID|SETNAME name|GETNAME|LIST [TYPE t] [ID id ...]|INFO`.
pub(super) fn client(s: &mut Session, db: &mut Db, args: &[Value], now: Instant) -> Reply {
    let sub = &args[1];
    let arity =
        |n: usize, name: &str| (args.len() != n).then(|| wrong_arity(&format!("client|{name}")));
    if sub.eq_ignore_case(b"list") || sub.eq_ignore_case(b"info") {
        return client_list(s, db, args, now);
    }
    if sub.eq_ignore_case(b"id") {
        arity(2, "id").unwrap_or(Reply::Integer(s.id as i64))
    } else if sub.eq_ignore_case(b"getname") {
        arity(2, "getname").unwrap_or_else(|| {
            s.name
                .clone()
                .map_or(Reply::Nil, |n| Reply::Bulk(Value::One(n)))
        })
    } else if sub.eq_ignore_case(b"setname") {
        if let Some(e) = arity(3, "setname") {
            return e;
        }
        match set_name(s, &args[2]) {
            Ok(()) => Reply::Simple("OK"),
            Err(e) => e,
        }
    } else {
        Reply::err(format!(
            "unknown subcommand '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&sub.to_bytes())
        ))
    }
}

/// `HELLO [protover [AUTH user pass] [SETNAME name]]`: switches to RESP2
/// or RESP3 and answers the server's description (a map).
pub(super) fn hello(s: &mut Session, _db: &mut Db, args: &[Value], _now: Instant) -> Reply {
    let mut protocol = s.protocol;
    if let Some(v) = args.get(1) {
        match v.to_i64() {
            None => {
                return Reply::err("Protocol version is not an integer or out of range");
            }
            Some(n @ (2 | 3)) => protocol = n as u8,
            Some(_) => return Reply::Error("NOPROTO unsupported protocol version".into()),
        }
    }
    let mut i = 2;
    let mut name = None;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if args[i].eq_ignore_case(b"auth") && more >= 2 {
            // No users are configured: `default` has no password, as in a
            // redis-server without `requirepass`.
            if !args[i + 1].eq_ignore_case(b"default") {
                return Reply::Error(
                    "WRONGPASS invalid username-password pair or user is disabled.".into(),
                );
            }
            i += 3;
        } else if args[i].eq_ignore_case(b"setname") && more >= 1 {
            name = Some(&args[i + 1]);
            i += 2;
        } else {
            return Reply::err(format!(
                "Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[i].to_bytes())
            ));
        }
    }
    if let Some(name) = name {
        if let Err(e) = set_name(s, name) {
            return e;
        }
    }
    s.protocol = protocol;
    Reply::Map(vec![
        (Reply::text("server"), Reply::text("redis")),
        (Reply::text("version"), Reply::text(REDIS_VERSION)),
        (Reply::text("proto"), Reply::Integer(i64::from(protocol))),
        (Reply::text("id"), Reply::Integer(s.id as i64)),
        (Reply::text("mode"), Reply::text("standalone")),
        (Reply::text("role"), Reply::text("master")),
        (Reply::text("modules"), Reply::Array(vec![])),
    ])
}

/// Commands a transaction runs at once instead of queueing.
pub(super) fn runs_in_transaction(name: &str) -> bool {
    matches!(name, "exec" | "discard" | "multi" | "watch" | "quit")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::execute_in;
    use super::*;

    fn run(s: &mut Session, db: &mut Db, now: Instant, line: &str) -> Reply {
        let args: Vec<Value> = line
            .split(' ')
            .map(|a| Value::One(Bytes::copy_from_slice(a.as_bytes())))
            .collect();
        execute_in(s, db, &args, now).0
    }

    #[test]
    fn a_watched_key_changed_by_another_connection_aborts_exec() {
        let (mut a, mut b, mut db, t) = (Session::new(), Session::new(), Db::new(), Instant::now());
        run(&mut a, &mut db, t, "SET k 1");
        assert_eq!(run(&mut a, &mut db, t, "WATCH k"), Reply::Simple("OK"));
        assert_eq!(run(&mut a, &mut db, t, "MULTI"), Reply::Simple("OK"));
        assert_eq!(run(&mut a, &mut db, t, "INCR k"), Reply::Simple("QUEUED"));
        // Another connection's write, between MULTI and EXEC.
        assert_eq!(run(&mut b, &mut db, t, "SET k 5"), Reply::Simple("OK"));
        assert_eq!(run(&mut a, &mut db, t, "EXEC"), Reply::NilArray);
        assert_eq!(
            run(&mut a, &mut db, t, "GET k"),
            Reply::Bulk(Value::from(&b"5"[..]))
        );
        // The watch ended with EXEC: the next transaction runs.
        run(&mut a, &mut db, t, "MULTI");
        run(&mut a, &mut db, t, "INCR k");
        run(&mut b, &mut db, t, "SET k 7");
        assert_eq!(
            run(&mut a, &mut db, t, "EXEC"),
            Reply::Array(vec![Reply::Integer(8)])
        );
        assert_eq!(db.version(b"k"), 0, "no watcher is left");
    }

    #[test]
    fn a_watched_key_that_expires_aborts_exec_and_unwatch_forgets() {
        let (mut a, mut db, t) = (Session::new(), Db::new(), Instant::now());
        run(&mut a, &mut db, t, "SET k 1 PX 10");
        run(&mut a, &mut db, t, "WATCH k");
        run(&mut a, &mut db, t, "MULTI");
        run(&mut a, &mut db, t, "GET k");
        let later = t + Duration::from_millis(20);
        assert_eq!(run(&mut a, &mut db, later, "EXEC"), Reply::NilArray);
        run(&mut a, &mut db, t, "SET j 1");
        run(&mut a, &mut db, t, "WATCH j");
        run(&mut a, &mut db, t, "UNWATCH");
        run(&mut a, &mut db, t, "SET j 2");
        run(&mut a, &mut db, t, "MULTI");
        run(&mut a, &mut db, t, "GET j");
        assert_eq!(
            run(&mut a, &mut db, t, "EXEC"),
            Reply::Array(vec![Reply::Bulk(Value::from(&b"2"[..]))])
        );
    }

    #[test]
    fn refused_requests_abort_the_transaction_and_discard_ends_it() {
        let (mut a, mut db, t) = (Session::new(), Db::new(), Instant::now());
        assert_eq!(
            run(&mut a, &mut db, t, "EXEC"),
            Reply::err("EXEC without MULTI")
        );
        assert_eq!(
            run(&mut a, &mut db, t, "DISCARD"),
            Reply::err("DISCARD without MULTI")
        );
        run(&mut a, &mut db, t, "MULTI");
        assert_eq!(
            run(&mut a, &mut db, t, "MULTI"),
            Reply::err("MULTI calls can not be nested")
        );
        assert_eq!(
            run(&mut a, &mut db, t, "WATCH k"),
            Reply::err("WATCH inside MULTI is not allowed")
        );
        run(&mut a, &mut db, t, "SET k v");
        assert_eq!(
            run(&mut a, &mut db, t, "GET"),
            Reply::err("wrong number of arguments for 'get' command")
        );
        assert_eq!(
            run(&mut a, &mut db, t, "EXEC"),
            Reply::Error("EXECABORT Transaction discarded because of previous errors.".into())
        );
        assert_eq!(run(&mut a, &mut db, t, "EXISTS k"), Reply::Integer(0));
        run(&mut a, &mut db, t, "MULTI");
        run(&mut a, &mut db, t, "SET k v");
        assert_eq!(run(&mut a, &mut db, t, "DISCARD"), Reply::Simple("OK"));
        assert_eq!(run(&mut a, &mut db, t, "EXISTS k"), Reply::Integer(0));
    }

    #[test]
    fn client_names_and_hello() {
        let (mut a, mut db, t) = (Session::new(), Db::new(), Instant::now());
        assert_eq!(run(&mut a, &mut db, t, "CLIENT GETNAME"), Reply::Nil);
        assert_eq!(
            run(&mut a, &mut db, t, "CLIENT SETNAME web-1"),
            Reply::Simple("OK")
        );
        assert_eq!(
            run(&mut a, &mut db, t, "CLIENT GETNAME"),
            Reply::Bulk(Value::from(&b"web-1"[..]))
        );
        assert_eq!(
            run(&mut a, &mut db, t, "CLIENT SETNAME a\nb"),
            Reply::err("Client names cannot contain spaces, newlines or special characters.")
        );
        assert_eq!(
            run(&mut a, &mut db, t, "CLIENT ID"),
            Reply::Integer(a.id() as i64)
        );
        assert_eq!(
            run(&mut a, &mut db, t, "HELLO 4"),
            Reply::Error("NOPROTO unsupported protocol version".into())
        );
        let Reply::Map(hello) = run(&mut a, &mut db, t, "HELLO 3") else {
            panic!("HELLO answers a map")
        };
        assert_eq!(hello[2].1, Reply::Integer(3));
        assert_eq!(a.protocol(), 3);
        let Reply::Map(hello) = run(&mut a, &mut db, t, "HELLO 2 SETNAME w2") else {
            panic!("HELLO answers a map")
        };
        assert_eq!(hello[2].1, Reply::Integer(2));
        assert_eq!(a.protocol(), 2);
        assert_eq!(
            run(&mut a, &mut db, t, "CLIENT GETNAME"),
            Reply::Bulk(Value::from(&b"w2"[..]))
        );
    }
}
