//! Sockets driving Weft pipelines: writev gathering, sendfile file regions,
//! splice relays and backpressure.
//!
//! - [`ServerBuilder`] binds TCP or Unix addresses and gives each accepted
//!   connection a pipeline from an initializer closure; [`connect_tcp`] /
//!   [`connect_unix`] do the same for clients. Each connection runs in one
//!   tokio task that owns its socket, its [`Pipeline`](weft_pipeline::Pipeline)
//!   and its [`OutboundBuffer`]; a cloneable [`Channel`] lets other tasks
//!   write, flush and close.
//! - [`OutboundBuffer`] queues `Bytes`, `CompositeBuf` and `FileRegion`
//!   writes and flushes them with one `writev` per gather, `sendfile` (or
//!   the [`FilePath`] chosen) per file region, watermarks included.
//! - Fairness: a connection writes at most [`DEFAULT_WRITE_BUDGET`] bytes
//!   (or [`DEFAULT_MAX_WRITES_PER_WAKEUP`] calls) per turn of its thread's
//!   event loop, each `sendfile`/`splice` at most
//!   [`DEFAULT_MAX_WRITE_CHUNK`](outbound::DEFAULT_MAX_WRITE_CHUNK), then
//!   lets the other connections run.
//! - Bounded memory: an idle connection holds no buffer
//!   ([`Channel::held_bytes`]); [`ServerBuilder::max_connections`] refuses
//!   connections past a limit and counts them.
//! - TLS ([`tls`], rustls): [`ServerBuilder::tls`] and [`connect_tcp_tls`]
//!   encrypt a connection under the same pipeline; a `FileRegion` is
//!   written the same way on it.
//! - [`relay`] moves bytes between two sockets with `splice`.
//! - [`Stats`] counts bytes and system calls by path, per channel and for
//!   the process ([`global_stats`]); [`sys`] holds every raw system call.
//!
//! # Examples
//!
//! A length-framed echo server and a client talking to it:
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use weft_pipeline::codec::{ByteToMessageDecoder, LengthFieldBasedFrameDecoder, LengthFieldPrepender};
//! use weft_buf::CompositeBuf;
//! use weft_pipeline::{Batch, Context, Handler, Nothing, Pipeline, PipelineError};
//! use weft_transport::{connect_tcp, ChannelConfig, ServerBuilder};
//!
//! /// Answers the frames of one read with their echo and one flush.
//! struct Echo;
//! impl Handler for Echo {
//!     type In = CompositeBuf;
//!     type Out = Nothing;
//!     fn read(&mut self, ctx: &mut Context<'_, Nothing>, frame: CompositeBuf) {
//!         ctx.write_and_flush(frame);
//!     }
//!     fn read_batch(&mut self, ctx: &mut Context<'_, Nothing>, frames: Batch<'_, CompositeBuf>) {
//!         frames.for_each(|f| ctx.write(f));
//!         ctx.flush();
//!     }
//! }
//!
//! fn framing(p: &mut Pipeline) -> Result<(), PipelineError> {
//!     p.handlers()
//!         .add_last("frames", ByteToMessageDecoder::new(LengthFieldBasedFrameDecoder::new(1 << 20, 0, 4, 0, 4)?))?
//!         .add_last("length", LengthFieldPrepender::new(4)?)?;
//!     Ok(())
//! }
//!
//! let server = ServerBuilder::new().bind_tcp("127.0.0.1:0".parse()?, |p| {
//!     framing(p)?;
//!     p.handlers().add_last("echo", Echo)?;
//!     Ok(())
//! })?;
//! let client = connect_tcp(server.local_addr().unwrap(), &ChannelConfig::default(), framing).await?;
//! client.write_and_flush(bytes::Bytes::from_static(b"hello")).await?;
//! println!("{:?}", client.stats());
//! server.shutdown(std::time::Duration::from_secs(1)).await?;
//! # Ok(()) }
//! ```
//!
//! The outbound buffer alone, on a socket pair:
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

mod accept;
mod channel;
mod client;
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
pub mod tls;

pub use channel::Channel;

/// The user event a connection fires when its peer ended its stream while
/// half-closure is allowed ([`ChannelConfig::allow_half_closure`]; Netty's
/// `ChannelInputShutdownEvent`). Reading has stopped; writing has not.
///
/// # Examples
///
/// ```
/// use weft_pipeline::{Context, Event, Handler, Message, Nothing};
/// struct LastAnswer;
/// impl Handler for LastAnswer {
///     type In = Message;
///     type Out = Nothing;
///     fn read(&mut self, _ctx: &mut Context<'_, Nothing>, _m: Message) {}
///     fn event(&mut self, ctx: &mut Context<'_, Nothing>, event: Event) {
///         if let Event::User(v) = &event {
///             if v.is::<weft_transport::InputShutdown>() {
///                 ctx.write_and_flush(bytes::Bytes::from_static(b"bye"));
///                 ctx.close();
///             }
///         }
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputShutdown;
pub use client::{connect_tcp, connect_tcp_tls, connect_unix};
pub use config::{
    ChannelConfig, DEFAULT_CLOSE_TIMEOUT, DEFAULT_MAX_READS_PER_WAKEUP,
    DEFAULT_MAX_WRITES_PER_WAKEUP, DEFAULT_WRITE_BUDGET,
};
pub use error::TransportError;
pub use outbound::{
    AsyncSink, Completion, FilePath, OutboundBuffer, DEFAULT_COALESCE_THRESHOLD,
    DEFAULT_HIGH_WATERMARK, DEFAULT_LOW_WATERMARK,
};
pub use recv::AdaptiveRecvBuf;
pub use relay::{relay, RelayMode, RelayStats, RELAY_COPY_CHUNK, RELAY_PIPE_SIZE};
pub use server::{
    BoundAddr, ChannelHook, Initializer, Server, ServerBuilder, ServerStats, DEFAULT_BACKLOG,
    MAX_ACCEPT_BACKOFF, MIN_ACCEPT_BACKOFF,
};
pub use stats::{global_stats, Counter, Stats, StatsSnapshot};
pub use tls::{TlsAcceptor, TlsConnector, TlsError};
