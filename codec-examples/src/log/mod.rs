//! `weft log`: an append-only log broker, the seed article's Kafka lesson
//! made runnable; and `weft log-client`, its command-line producer and
//! consumer.
//!
//! Records are appended to segment files that roll at a configurable size;
//! each segment has a sparse offset index kept in a memory map (as Kafka and
//! RocketMQ index their logs); a fetch answers with a small header followed
//! by a [`weft_buf::FileRegion`] cut straight from the segment file, which
//! the transport sends with `sendfile`, so fetched records never enter user
//! space.
//!
//! ```text
//!  produce ─▶ LogDecoder ─▶ LogHandler ─ctx.spawn─▶ task: spawn_blocking(append) ─▶ writev(headers + payloads) ─▶ 000…000.log
//!             (records are slices                                         and every 4 KiB an index entry ─▶ 000…000.index (mmap)
//!              of the reads)
//!  fetch   ─▶ LogDecoder ─▶ LogHandler ─ctx.spawn─▶ task: long poll at the end of the log, then
//!                                                   spawn_blocking(index lookup (mmap) + header walk)
//!
//!  each task's answer comes back to LogHandler, in request order:
//!    produce ─▶ [ack]                         ─▶ writev
//!    fetch   ─▶ [header][FileRegion of .log]…  ─▶ writev + sendfile
//!               (one region per segment when a fetch runs past a roll)
//! ```
//!
//! Each connection runs a [`decoder::LogDecoder`] and a [`handler::LogHandler`]
//! (wired up in [`server`]). The handler starts every request as a task on
//! the connection's own task (`Context::spawn`); the tasks of a connection
//! run one at a time in arrival order, and their answers come back to the
//! handler, which writes them, in request order.
//!
//! The wire protocol is in [`protocol`], the on-disk record in [`record`],
//! the index in [`index`], recovery in [`segment`], the log itself in
//! [`store`].
//!
//! Retention (`--retain-bytes`, `--retain-age`) deletes whole old
//! segments, never the active one: at every roll, at open, and once a
//! second by age. A fetch below the oldest offset left is answered "offset
//! N is out of range: retention deleted the records before offset M"
//! (status 1); a fetch answered just before a deletion still sends whole
//! records, because its file regions hold the deleted files open.
//!
//! Restart recovers: each segment's index entries are checked against the
//! records they point at (entries that do not match are dropped), the
//! records after the last good entry are read and CRC-checked (rebuilding
//! the index on the way), and a torn record at the tail (short, or a bad
//! CRC) is cut off together with whatever follows it.

pub mod client;
pub mod commit;
pub mod crc;
pub mod decoder;
pub mod handler;
pub mod index;
pub mod protocol;
pub mod record;
pub mod segment;
pub mod server;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The `--fsync` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FsyncArg {
    /// `fdatasync` before each produce is acknowledged; concurrent
    /// produces share one sync (group commit, see [`commit`]).
    Always,
    /// `fdatasync` every `--fsync-interval-ms` in the background.
    Interval,
    /// Leave write-back to the kernel.
    Never,
}

/// Arguments of `weft log`.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Directory of the segment and index files (created if missing).
    #[arg(long)]
    pub dir: PathBuf,
    /// Address to listen on (`127.0.0.1:0` picks a free port, printed on the
    /// first line as `listening on ADDR`).
    #[arg(long, default_value = "127.0.0.1:9092")]
    pub listen: SocketAddr,
    /// Size at which a segment rolls, in bytes.
    #[arg(long, default_value_t = store::DEFAULT_SEGMENT_BYTES)]
    pub segment_bytes: u64,
    /// When produced records are forced to disk before the acknowledgement.
    #[arg(long, value_enum, default_value_t = FsyncArg::Interval)]
    pub fsync: FsyncArg,
    /// Period of `--fsync interval`, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub fsync_interval_ms: u64,
    /// Delete the oldest whole segments while the log would still hold at
    /// least this many bytes without them (default: keep everything).
    #[arg(long)]
    pub retain_bytes: Option<u64>,
    /// Delete whole segments whose last append is older than this: a number
    /// with a unit, `ms`, `s`, `m`, `h` or `d` (`90s`, `7d`; default: keep
    /// everything).
    #[arg(long, value_parser = parse_age)]
    pub retain_age: Option<Duration>,
    /// TLS (`--tls-cert`, `--tls-key`).
    #[command(flatten)]
    pub tls: crate::tls::TlsArgs,
}

/// Parses `--retain-age`: digits then one of `ms`, `s`, `m`, `h`, `d`.
///
/// # Errors
///
/// A message naming what was wrong with `s`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use weft_examples::log::parse_age;
/// assert_eq!(parse_age("90s"), Ok(Duration::from_secs(90)));
/// assert_eq!(parse_age("7d"), Ok(Duration::from_secs(7 * 86_400)));
/// assert_eq!(parse_age("250ms"), Ok(Duration::from_millis(250)));
/// assert!(parse_age("7").unwrap_err().contains("unit"));
/// ```
pub fn parse_age(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?}: expected a whole number followed by a unit"))?;
    let ms_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{s:?}: the unit must be one of ms, s, m, h, d")),
    };
    n.checked_mul(ms_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{s:?}: too long"))
}

/// Arguments of `weft log-client`.
#[derive(Debug, Clone, clap::Args)]
pub struct LogClientArgs {
    /// The broker's address.
    #[arg(long)]
    pub addr: SocketAddr,
    /// What to do.
    #[command(subcommand)]
    pub action: ClientAction,
}

/// `weft log-client` actions.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ClientAction {
    /// Read records from stdin, one per line; print the first offset of each
    /// acknowledged batch.
    Produce {
        /// Most records per batch.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// Print records from an offset, one per line, until the end of the log.
    Fetch {
        /// First offset to print.
        #[arg(long)]
        offset: u64,
        /// Byte budget of each fetch (at least one record always comes).
        #[arg(long, default_value_t = 1 << 20)]
        max_bytes: u32,
        /// Keep waiting for new records at the end of the log (stop with Ctrl-C).
        #[arg(long)]
        follow: bool,
    },
}

/// Runs `weft log` until SIGINT/SIGTERM.
///
/// # Errors
///
/// A bad setting, a log that cannot be opened or recovered, or I/O errors
/// binding the address.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// use weft_examples::log::{run, FsyncArg, LogArgs};
/// run(LogArgs {
///     dir: "/tmp/weft-log".into(),
///     listen: "127.0.0.1:0".parse().unwrap(),
///     segment_bytes: 1 << 20,
///     fsync: FsyncArg::Always,
///     fsync_interval_ms: 1000,
///     retain_bytes: Some(1 << 30),
///     retain_age: Some(std::time::Duration::from_secs(7 * 86_400)),
///     tls: Default::default(),
/// })
/// .await
/// # }
/// ```
pub async fn run(args: LogArgs) -> std::io::Result<()> {
    let fsync = match args.fsync {
        FsyncArg::Always => store::FsyncPolicy::Always,
        FsyncArg::Never => store::FsyncPolicy::Never,
        FsyncArg::Interval => {
            store::FsyncPolicy::Interval(Duration::from_millis(args.fsync_interval_ms.max(1)))
        }
    };
    let config = store::LogConfig {
        segment_bytes: args.segment_bytes,
        fsync,
        retain_bytes: args.retain_bytes,
        retain_age: args.retain_age,
    };
    let dir = args.dir.clone();
    let (log, found) = tokio::task::spawn_blocking(move || store::Log::open(&dir, config))
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)?;
    tracing::info!(
        segments = found.segments,
        next_offset = log.next_offset(),
        truncated = found.total.bytes_truncated,
        index_entries_dropped = found.total.index_entries_dropped,
        segments_removed = found.segments_removed,
        "log recovered"
    );
    if found.total.bytes_truncated > 0 || found.segments_removed > 0 {
        tracing::warn!(
            bytes = found.total.bytes_truncated,
            segments = found.segments_removed,
            "recovery cut a torn tail off the log"
        );
    }
    let tls = args.tls.acceptor(&[])?;
    server::run_with(server::Broker::new(log), args.listen, tls).await
}

/// Runs `weft log-client`.
///
/// # Errors
///
/// I/O errors and the broker's error answers.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// use weft_examples::log::{run_client, ClientAction, LogClientArgs};
/// let action = ClientAction::Fetch { offset: 0, max_bytes: 1 << 20, follow: false };
/// run_client(LogClientArgs { addr: "127.0.0.1:9092".parse().unwrap(), action }).await
/// # }
/// ```
pub async fn run_client(args: LogClientArgs) -> std::io::Result<()> {
    match args.action {
        ClientAction::Produce { batch } => client::produce(args.addr, batch).await,
        ClientAction::Fetch {
            offset,
            max_bytes,
            follow,
        } => client::fetch(args.addr, offset, max_bytes, follow).await,
    }
}
