//! Sockets driving Weft pipelines: writev gathering, sendfile file regions,
//! splice relays and backpressure.
//!
//! - [`sys`]: the only place with raw system calls;
//! - [`OutboundBuffer`]: the ordered queue of pending writes and its flush;
//! - [`Stats`]: bytes and system calls by path, per channel and process-wide.
//!
//! # Examples
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use tokio::io::AsyncReadExt;
//! use weft_transport::OutboundBuffer;
//!
//! let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
//! let mut out: OutboundBuffer = OutboundBuffer::new(Default::default());
//! out.push(bytes::Bytes::from_static(b"hi"), None);
//! out.flush_to(&a).await.unwrap();
//! let mut buf = [0u8; 2];
//! b.read_exact(&mut buf).await.unwrap();
//! assert_eq!(&buf, b"hi");
//! # });
//! ```
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod channel;
mod config;
mod conn;
mod error;
pub mod outbound;
pub mod recv;
mod relay;
mod server;
pub mod stats;
mod stream;
pub mod sys;

pub use channel::Channel;
pub use config::{ChannelConfig, DEFAULT_CLOSE_TIMEOUT, DEFAULT_MAX_READS_PER_WAKEUP};
pub use error::TransportError;
pub use outbound::{
    AsyncSink, Completion, FilePath, OutboundBuffer, Payload, DEFAULT_COALESCE_THRESHOLD,
    DEFAULT_HIGH_WATERMARK, DEFAULT_LOW_WATERMARK,
};
pub use recv::AdaptiveRecvBuf;
pub use relay::{relay, RelayMode, RelayStats, RELAY_COPY_CHUNK, RELAY_PIPE_SIZE};
pub use server::{
    connect_tcp, connect_unix, BoundAddr, ChannelHook, Initializer, Server, ServerBuilder,
    ServerStats, DEFAULT_BACKLOG, MAX_ACCEPT_BACKOFF, MIN_ACCEPT_BACKOFF,
};
pub use stats::{global_stats, Counter, Stats, StatsSnapshot};
