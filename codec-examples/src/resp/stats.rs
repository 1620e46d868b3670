//! Server figures `INFO` reports, kept next to the key space (under the
//! same lock, so counting costs an add, not an atomic).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

/// Counters and facts about the running server.
///
/// # Examples
///
/// ```
/// let s = weft_examples::resp::stats::Stats::default();
/// assert_eq!(s.connected_clients, 0);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Stats {
    /// When the server started.
    pub started: Instant,
    /// The port it listens on (0 when not known, as in tests).
    pub tcp_port: u16,
    /// Connections open now.
    pub connected_clients: u64,
    /// Connections accepted since the start.
    pub connections_received: u64,
    /// Commands run since the start (refused ones not counted, as Redis).
    pub commands_processed: u64,
    /// Keys removed because their deadline passed.
    pub expired_keys: u64,
    /// The open connections by id, as `CLIENT LIST` shows them; each is
    /// brought up to date once per read batch.
    pub clients: BTreeMap<u64, ClientInfo>,
}

/// One open connection, as `CLIENT LIST` describes it.
///
/// # Examples
///
/// ```
/// use std::time::Instant;
/// use weft_examples::resp::stats::ClientInfo;
/// let c = ClientInfo::new(None, None, Instant::now());
/// assert_eq!(c.cmd, ("NULL", None));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientInfo {
    /// The peer's address.
    pub peer: Option<SocketAddr>,
    /// The local address it connected to.
    pub local: Option<SocketAddr>,
    /// The name `CLIENT SETNAME` gave it.
    pub name: Option<Bytes>,
    /// When it connected.
    pub since: Instant,
    /// When it last ran a command.
    pub last: Instant,
    /// The last command it ran, and its subcommand (`client`, `list`).
    pub cmd: (&'static str, Option<&'static str>),
    /// Requests queued in its open transaction, if one is open.
    pub multi: Option<usize>,
}

impl ClientInfo {
    /// A connection that has run nothing yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    /// let c = weft_examples::resp::stats::ClientInfo::new(None, None, Instant::now());
    /// assert!(c.name.is_none());
    /// ```
    pub fn new(peer: Option<SocketAddr>, local: Option<SocketAddr>, now: Instant) -> ClientInfo {
        ClientInfo {
            peer,
            local,
            name: None,
            since: now,
            last: now,
            cmd: ("NULL", None),
            multi: None,
        }
    }

    /// The line `CLIENT LIST` and `CLIENT INFO` give for it (Redis' fields
    /// this server has figures for), ended by `\n`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    /// let now = Instant::now();
    /// let c = weft_examples::resp::stats::ClientInfo::new(None, None, now);
    /// assert!(c.line(7, now).starts_with("id=7 addr= laddr= name= age=0 idle=0 flags=N"));
    /// ```
    pub fn line(&self, id: u64, now: Instant) -> String {
        let addr = |a: Option<SocketAddr>| a.map(|a| a.to_string()).unwrap_or_default();
        let cmd = match self.cmd {
            (c, Some(sub)) => format!("{c}|{sub}"),
            (c, None) => c.to_string(),
        };
        format!(
            "id={id} addr={} laddr={} name={} age={} idle={} flags={} db=0 multi={} cmd={cmd} user=default resp=2\n",
            addr(self.peer),
            addr(self.local),
            self.name
                .as_ref()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_default(),
            now.saturating_duration_since(self.since).as_secs(),
            now.saturating_duration_since(self.last).as_secs(),
            if self.multi.is_some() { "x" } else { "N" },
            self.multi.map_or(-1, |n| n as i64),
        )
    }
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            started: Instant::now(),
            tcp_port: 0,
            connected_clients: 0,
            connections_received: 0,
            commands_processed: 0,
            expired_keys: 0,
            clients: BTreeMap::new(),
        }
    }
}
