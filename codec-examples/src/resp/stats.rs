//! Server figures `INFO` reports, kept next to the key space (under the
//! same lock, so counting costs an add, not an atomic).

use std::time::Instant;

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
        }
    }
}
