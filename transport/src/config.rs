//! [`ChannelConfig`]: socket options and buffer settings of a connection.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use crate::outbound::{
    FilePath, DEFAULT_COALESCE_THRESHOLD, DEFAULT_HIGH_WATERMARK, DEFAULT_LOW_WATERMARK,
    DEFAULT_MAX_WRITE_CHUNK,
};
use crate::recv::{INITIAL_RECV, MAX_RECV, MIN_RECV};
use crate::sys;

/// How long a closing connection may take to flush what is pending before
/// it is closed anyway.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads made in a row before the connection task looks at its other
/// work (Netty's `maxMessagesPerRead`).
pub const DEFAULT_MAX_READS_PER_WAKEUP: usize = 16;

/// Bytes a connection may write in one turn of the event loop before it
/// yields to the other connections of its thread (it resumes writing on
/// its next turn). With [`DEFAULT_MAX_WRITES_PER_WAKEUP`] this is Netty's
/// `writeSpinCount`, counted in bytes as well as calls.
///
/// Two write chunks
/// ([`DEFAULT_MAX_WRITE_CHUNK`](crate::outbound::DEFAULT_MAX_WRITE_CHUNK)):
/// chosen with it by measurement (`benches/fairness.sh`, see
/// `benches/README.md`, "Transport fairness"); a small answer on another
/// connection of the thread then waits for at most about 256 KiB of
/// `sendfile` per busy connection.
pub const DEFAULT_WRITE_BUDGET: usize = 256 * 1024;

/// Write system calls a connection may make in one turn of the event
/// loop before it yields (Netty's `writeSpinCount` is 16).
pub const DEFAULT_MAX_WRITES_PER_WAKEUP: usize = 16;

/// Socket options and buffer settings applied to each connection.
///
/// Setters take `&mut self` and return it, so they chain.
///
/// # Examples
///
/// ```
/// use weft_transport::{ChannelConfig, FilePath};
/// let mut c = ChannelConfig::default();
/// c.nodelay(false).watermarks(128 * 1024, 64 * 1024).file_path(FilePath::Splice);
/// assert_eq!(c.high_watermark(), 128 * 1024);
/// ```
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    pub(crate) nodelay: bool,
    pub(crate) keepalive: Option<Duration>,
    pub(crate) send_buffer: Option<usize>,
    pub(crate) recv_buffer: Option<usize>,
    pub(crate) high: u64,
    pub(crate) low: u64,
    pub(crate) coalesce: usize,
    pub(crate) file_path: FilePath,
    pub(crate) recv_sizes: (usize, usize, usize),
    pub(crate) auto_read: bool,
    pub(crate) close_timeout: Duration,
    pub(crate) max_reads: usize,
    pub(crate) write_budget: usize,
    pub(crate) max_writes: usize,
    pub(crate) max_write_chunk: usize,
    pub(crate) tls: Option<crate::tls::TlsRole>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) half_closure: bool,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            nodelay: true,
            keepalive: None,
            send_buffer: None,
            recv_buffer: None,
            high: DEFAULT_HIGH_WATERMARK,
            low: DEFAULT_LOW_WATERMARK,
            coalesce: DEFAULT_COALESCE_THRESHOLD,
            file_path: FilePath::Sendfile,
            recv_sizes: (MIN_RECV, INITIAL_RECV, MAX_RECV),
            auto_read: true,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            max_reads: DEFAULT_MAX_READS_PER_WAKEUP,
            write_budget: DEFAULT_WRITE_BUDGET,
            max_writes: DEFAULT_MAX_WRITES_PER_WAKEUP,
            max_write_chunk: DEFAULT_MAX_WRITE_CHUNK,
            tls: None,
            handshake_timeout: crate::tls::DEFAULT_HANDSHAKE_TIMEOUT,
            half_closure: false,
        }
    }
}

impl ChannelConfig {
    /// `TCP_NODELAY` (on by default).
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ChannelConfig::default().nodelay(false);
    /// ```
    pub fn nodelay(&mut self, on: bool) -> &mut Self {
        self.nodelay = on;
        self
    }

    /// TCP keepalive with this idle time (off by default).
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ChannelConfig::default().keepalive(Some(std::time::Duration::from_secs(60)));
    /// ```
    pub fn keepalive(&mut self, idle: Option<Duration>) -> &mut Self {
        self.keepalive = idle;
        self
    }

    /// `SO_SNDBUF` (kernel default when unset).
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ChannelConfig::default().send_buffer(Some(256 * 1024));
    /// ```
    pub fn send_buffer(&mut self, bytes: Option<usize>) -> &mut Self {
        self.send_buffer = bytes;
        self
    }

    /// `SO_RCVBUF` (kernel default when unset).
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ChannelConfig::default().recv_buffer(Some(256 * 1024));
    /// ```
    pub fn recv_buffer(&mut self, bytes: Option<usize>) -> &mut Self {
        self.recv_buffer = bytes;
        self
    }

    /// High and low write watermarks in bytes, file regions included.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut c = weft_transport::ChannelConfig::default();
    /// c.watermarks(1000, 500);
    /// assert_eq!(c.high_watermark(), 1000);
    /// ```
    pub fn watermarks(&mut self, high: u64, low: u64) -> &mut Self {
        self.high = high;
        self.low = low.min(high);
        self
    }

    /// The high watermark.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(weft_transport::ChannelConfig::default().high_watermark(), 64 * 1024);
    /// ```
    pub fn high_watermark(&self) -> u64 {
        self.high
    }

    /// Segments shorter than this are coalesced (see
    /// [`DEFAULT_COALESCE_THRESHOLD`]).
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ChannelConfig::default().coalesce_threshold(512);
    /// ```
    pub fn coalesce_threshold(&mut self, bytes: usize) -> &mut Self {
        self.coalesce = bytes;
        self
    }

    /// How file regions are sent ([`FilePath::Sendfile`] by default).
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ChannelConfig::default().file_path(weft_transport::FilePath::ReadWrite);
    /// ```
    pub fn file_path(&mut self, path: FilePath) -> &mut Self {
        self.file_path = path;
        self
    }

    /// Bounds and first size of the adaptive receive buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ChannelConfig::default().recv_sizes(64, 4096, 65536);
    /// ```
    pub fn recv_sizes(&mut self, min: usize, initial: usize, max: usize) -> &mut Self {
        self.recv_sizes = (min, initial, max);
        self
    }

    /// Whether the connection reads as soon as it starts (on by default).
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ChannelConfig::default().auto_read(false);
    /// ```
    pub fn auto_read(&mut self, on: bool) -> &mut Self {
        self.auto_read = on;
        self
    }

    /// How long a closing connection may flush (see
    /// [`DEFAULT_CLOSE_TIMEOUT`]).
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ChannelConfig::default().close_timeout(std::time::Duration::from_secs(1));
    /// ```
    pub fn close_timeout(&mut self, t: Duration) -> &mut Self {
        self.close_timeout = t;
        self
    }

    /// Reads in a row before other work is looked at.
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ChannelConfig::default().max_reads_per_wakeup(4);
    /// ```
    pub fn max_reads_per_wakeup(&mut self, n: usize) -> &mut Self {
        self.max_reads = n.max(1);
        self
    }

    /// Bytes a connection writes in one turn of the event loop before it
    /// lets the other connections of its thread run (see
    /// [`DEFAULT_WRITE_BUDGET`]); at least one write is always made.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut c = weft_transport::ChannelConfig::default();
    /// c.write_budget(256 * 1024);
    /// assert_eq!(c.write_budget_bytes(), 256 * 1024);
    /// ```
    pub fn write_budget(&mut self, bytes: usize) -> &mut Self {
        self.write_budget = bytes.max(1);
        self
    }

    /// The write budget per turn, in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(
    ///     weft_transport::ChannelConfig::default().write_budget_bytes(),
    ///     weft_transport::DEFAULT_WRITE_BUDGET
    /// );
    /// ```
    pub fn write_budget_bytes(&self) -> usize {
        self.write_budget
    }

    /// Write system calls in one turn before the connection yields (see
    /// [`DEFAULT_MAX_WRITES_PER_WAKEUP`]); at least 1.
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ChannelConfig::default().max_writes_per_wakeup(4);
    /// ```
    pub fn max_writes_per_wakeup(&mut self, n: usize) -> &mut Self {
        self.max_writes = n.max(1);
        self
    }

    /// Most bytes one `sendfile` / `splice` call may move (see
    /// [`DEFAULT_MAX_WRITE_CHUNK`](crate::outbound::DEFAULT_MAX_WRITE_CHUNK),
    /// nginx's `sendfile_max_chunk`); a `writev` at most this or
    /// [`DEFAULT_GATHER_CAP`](crate::outbound::DEFAULT_GATHER_CAP).
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ChannelConfig::default().max_write_chunk(2 << 20);
    /// ```
    pub fn max_write_chunk(&mut self, bytes: usize) -> &mut Self {
        self.max_write_chunk = bytes;
        self
    }

    /// How long a TLS handshake may take before the connection is closed
    /// ([`DEFAULT_HANDSHAKE_TIMEOUT`](crate::tls::DEFAULT_HANDSHAKE_TIMEOUT)
    /// by default); ignored on plaintext connections.
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ChannelConfig::default().handshake_timeout(std::time::Duration::from_secs(3));
    /// ```
    pub fn handshake_timeout(&mut self, t: Duration) -> &mut Self {
        self.handshake_timeout = t;
        self
    }

    /// Netty's `ALLOW_HALF_CLOSURE` (off by default). Off, the peer's end of
    /// stream closes the connection once what is pending is written. On,
    /// it only stops reading and fires an [`InputShutdown`](crate::InputShutdown)
    /// user event: handlers may go on writing (an answer to the last
    /// request) and close when they are done.
    ///
    /// # Examples
    ///
    /// ```
    /// weft_transport::ChannelConfig::default().allow_half_closure(true);
    /// ```
    pub fn allow_half_closure(&mut self, on: bool) -> &mut Self {
        self.half_closure = on;
        self
    }

    /// Makes every connection with this configuration a TLS server.
    pub(crate) fn set_tls(&mut self, role: Option<crate::tls::TlsRole>) -> &mut Self {
        self.tls = role;
        self
    }

    /// Applies the socket options to a connected socket.
    pub(crate) fn apply(&self, fd: BorrowedFd<'_>, tcp: bool) -> io::Result<()> {
        if tcp {
            sys::set_nodelay(fd, self.nodelay)?;
            if self.keepalive.is_some() {
                sys::set_keepalive(fd, self.keepalive)?;
            }
        }
        if let Some(n) = self.send_buffer {
            sys::set_send_buffer_size(fd, n)?;
        }
        if let Some(n) = self.recv_buffer {
            sys::set_recv_buffer_size(fd, n)?;
        }
        Ok(())
    }
}
