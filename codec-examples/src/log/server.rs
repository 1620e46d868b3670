//! The broker: the log every connection shares, and the server that runs
//! a [`LogDecoder`] and a [`LogHandler`] on each connection.
//!
//! ```text
//!  socket ─▶ ByteToMessageDecoder(LogDecoder) ─▶ LogHandler ─ctx.spawn─▶ a task per request (see super::handler)
//!  socket ◀── writev(header) + sendfile(FileRegion) ◀──── answers, in request order ◀──┘
//!                                           Broker: Mutex<Log> + the end offset that long polls watch
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use weft_buf::CompositeBuf;
use weft_pipeline::codec::ByteToMessageDecoder;
use weft_pipeline::{Pipeline, PipelineError};

use super::commit::GroupCommit;
use super::decoder::LogDecoder;
use super::handler::LogHandler;
use super::store::{Fetched, FsyncPolicy, Log, LogError, Retired};

/// How often the broker applies retention by age between rolls (Kafka's
/// `log.retention.check.interval.ms`, shorter since segments are smaller).
pub const RETENTION_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The log shared by every connection, and the end offset that waiting
/// fetches watch.
#[derive(Debug)]
pub struct Broker {
    log: Mutex<Log>,
    end: watch::Sender<u64>,
    /// `--fsync always`: produces are acknowledged through a group commit.
    commit: Option<GroupCommit>,
}

impl Broker {
    /// Wraps an opened log.
    ///
    /// # Examples
    ///
    /// ```
    /// use weft_examples::log::{server::Broker, store::{Log, LogConfig}};
    /// let dir = tempfile::tempdir().unwrap();
    /// let (log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
    /// let broker = Broker::new(log);
    /// assert_eq!(broker.next_offset(), 0);
    /// ```
    pub fn new(log: Log) -> Broker {
        let end = watch::Sender::new(log.next_offset());
        let commit = (log.config().fsync == FsyncPolicy::Always)
            .then(|| GroupCommit::new(log.next_offset()));
        Broker {
            log: Mutex::new(log),
            end,
            commit,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        // A panic while appending leaves at worst an unacknowledged tail
        // that recovery would cut; the log itself stays usable.
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The offset the next record gets.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_examples::log::{server::Broker, store::{Log, LogConfig}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let broker = Broker::new(Log::open(dir.path(), LogConfig::default()).unwrap().0);
    /// assert_eq!(broker.next_offset(), 0);
    /// ```
    pub fn next_offset(&self) -> u64 {
        self.lock().next_offset()
    }

    /// Appends (blocking: may `fdatasync`), then wakes waiting fetches.
    ///
    /// With `--fsync always` the write happens under the log's lock and the
    /// `fdatasync` after it, as a group commit ([`GroupCommit`]): one sync
    /// acknowledges every produce written before it started, so concurrent
    /// producers share syncs instead of queueing for one each. A fetch may
    /// see records whose sync is still running; the promise of `always` is
    /// about the acknowledgement (a produce that is not acknowledged may or
    /// may not be in the log after a power cut, as before).
    pub(super) fn append(&self, records: &[CompositeBuf]) -> Result<u64, LogError> {
        let mut log = self.lock();
        let first = match self.commit {
            Some(_) => log.append_unsynced(records)?,
            None => log.append(records)?,
        };
        let end = log.next_offset();
        drop(log);
        if let Some(commit) = &self.commit {
            commit.wait_durable(end, || {
                // The lock is released before the sync: writers go on.
                let target = self.lock().sync_target();
                match target {
                    Some((upto, file)) => file.sync_data().map(|()| upto),
                    None => Ok(end),
                }
            })?;
        }
        self.end.send_replace(end);
        Ok(first)
    }

    /// `fdatasync` calls that acknowledged produces under `--fsync always`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use weft_examples::log::{server::Broker, store::{Log, LogConfig}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let broker = Broker::new(Log::open(dir.path(), LogConfig::default()).unwrap().0);
    /// assert_eq!(broker.group_syncs(), 0); // the default policy is `interval`
    /// ```
    pub fn group_syncs(&self) -> u64 {
        self.commit.as_ref().map_or(0, GroupCommit::syncs)
    }

    /// Whole records from `offset` ([`Log::read`]; blocking: reads
    /// record headers with `pread`, and waits for the log's lock, which an
    /// append holds through its `fdatasync`).
    pub(super) fn read(&self, offset: u64, max_bytes: u64) -> Result<Fetched, LogError> {
        self.lock().read(offset, max_bytes)
    }

    /// Resolves once the log holds a record at `offset`, or after `wait`,
    /// whichever comes first (at once if it holds one already).
    pub(super) async fn wait_for_records(&self, offset: u64, wait: Duration) {
        let mut end = self.end.subscribe();
        // Timing out is the normal end of a long poll: it answers no records.
        let _ = tokio::time::timeout(wait, end.wait_for(|&e| e > offset)).await;
    }

    /// Applies retention now ([`Log::enforce_retention`]; blocking: reads
    /// file times and deletes files).
    fn enforce_retention(&self) -> Result<Retired, LogError> {
        self.lock().enforce_retention(std::time::SystemTime::now())
    }

    /// Syncs appended records (for the interval policy and at shutdown).
    fn sync(&self) -> Result<(), LogError> {
        self.lock().sync()
    }
}

/// Adds the broker's decoder and handler to a connection's pipeline.
///
/// # Errors
///
/// A [`PipelineError`] if the pipeline refuses them.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use weft_examples::log::{server::{add_log_handlers, Broker}, store::{Log, LogConfig}};
/// let dir = tempfile::tempdir()?;
/// let broker = Arc::new(Broker::new(Log::open(dir.path(), LogConfig::default())?.0));
/// let mut p = weft_pipeline::Pipeline::new();
/// add_log_handlers(&mut p, broker)?;
/// assert_eq!(p.names(), ["log-decoder", "log"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn add_log_handlers(p: &mut Pipeline, broker: Arc<Broker>) -> Result<(), PipelineError> {
    p.handlers()
        .add_last(
            "log-decoder",
            ByteToMessageDecoder::new(LogDecoder::default()),
        )?
        .add_last("log", LogHandler::new(broker))?;
    Ok(())
}

/// Runs the broker on `listen` until SIGINT/SIGTERM: prints
/// `listening on ADDR` first, syncs by the fsync policy, and on shutdown
/// syncs the log and prints what the transport sent by which path.
///
/// # Errors
///
/// I/O errors binding or installing signal handlers; a final sync error.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// use weft_examples::log::{server::{run, Broker}, store::{Log, LogConfig}};
/// let (log, _) = Log::open(std::path::Path::new("/tmp/log"), LogConfig::default()).unwrap();
/// run(Broker::new(log), "127.0.0.1:0".parse().unwrap()).await
/// # }
/// ```
pub async fn run(broker: Broker, listen: SocketAddr) -> std::io::Result<()> {
    run_with(broker, listen, None).await
}

/// [`run`], over TLS when `tls` is given.
///
/// # Errors
///
/// As [`run`].
///
/// # Examples
///
/// ```no_run
/// # async fn f(broker: weft_examples::log::server::Broker) -> std::io::Result<()> {
/// let tls = weft_transport::TlsAcceptor::from_pem_files("cert.pem", "key.pem", &[]).ok();
/// weft_examples::log::server::run_with(broker, "127.0.0.1:0".parse().unwrap(), tls).await
/// # }
/// ```
pub async fn run_with(
    broker: Broker,
    listen: SocketAddr,
    tls: Option<weft_transport::TlsAcceptor>,
) -> std::io::Result<()> {
    let _ = crate::common::raise_nofile_limit();
    let (fsync, retain_age) = {
        let log = broker.lock();
        (log.config().fsync, log.config().retain_age)
    };
    let broker = Arc::new(broker);
    let mut config = weft_transport::ChannelConfig::default();
    config.nodelay(true);
    let conn_broker = broker.clone();
    let mut builder = crate::common::server_builder();
    builder.config(config);
    if let Some(tls) = tls {
        builder.tls(tls);
    }
    let server = builder
        .bind_tcp(listen, move |p| add_log_handlers(p, conn_broker.clone()))
        .map_err(std::io::Error::other)?;
    let addr = server.local_addr().unwrap_or(listen);
    crate::common::announce(addr);
    tracing::info!(%addr, "log broker started");
    let syncer = match fsync {
        FsyncPolicy::Interval(period) => {
            let b = broker.clone();
            Some(tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                loop {
                    tick.tick().await;
                    let b = b.clone();
                    match tokio::task::spawn_blocking(move || b.sync()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::error!(error = %e, "periodic fsync failed"),
                        Err(e) => tracing::error!(error = %e, "periodic fsync task failed"),
                    }
                }
            }))
        }
        _ => None,
    };
    // Retention by size runs at every roll; by age it also needs a clock.
    let retainer = retain_age.map(|_| {
        let b = broker.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RETENTION_CHECK_INTERVAL);
            loop {
                tick.tick().await;
                let b = b.clone();
                match tokio::task::spawn_blocking(move || b.enforce_retention()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "retention failed"),
                    Err(e) => tracing::error!(error = %e, "retention task failed"),
                }
            }
        })
    });
    let signal = crate::common::shutdown_signal().await;
    if let Some(s) = syncer {
        s.abort();
    }
    if let Some(r) = retainer {
        r.abort();
    }
    server
        .shutdown(crate::common::SHUTDOWN_GRACE)
        .await
        .map_err(std::io::Error::other)?;
    broker.lock().sync_all().map_err(std::io::Error::other)?;
    if broker.commit.is_some() {
        tracing::info!(
            syncs = broker.group_syncs(),
            "fdatasync calls that acknowledged produces (group commit)"
        );
    }
    let s = weft_transport::global_stats();
    println!(
        "sent {} bytes by sendfile, {} by writev; {} bytes copied",
        s.sendfile_bytes, s.writev_bytes, s.copied_bytes
    );
    signal
}
