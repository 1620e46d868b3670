//! Weft's pipeline: a typed, changeable chain of handlers with zero-copy
//! framing codecs, tested without sockets.
//!
//! # The pipeline
//!
//! A [`Pipeline`] is an ordered list of named [`Handler`]s. Inbound events
//! (a read, "channel active", an exception, ...) travel from the head (the
//! socket side) towards the tail; outbound operations (write, flush, close)
//! travel from where they are issued towards the head, where the transport
//! performs them.
//!
//! ```text
//!                                    I/O request via Context or Pipeline
//!                                                   │
//!  ┌────────────────────────────────────────────────┼───────────┐
//!  │                    Pipeline                    │           │
//!  │                                                ▼           │
//!  │    ┌─────────────────────┐          ┌─────────────────────┐ │
//!  │    │ inbound handler  N  │          │ outbound handler  1 │ │
//!  │    └──────────▲──────────┘          └──────────┬──────────┘ │
//!  │               │                                ▼           │
//!  │    ┌──────────┴──────────┐          ┌─────────────────────┐ │
//!  │    │ inbound handler N-1 │          │ outbound handler  2 │ │
//!  │    └──────────▲──────────┘          └──────────┬──────────┘ │
//!  │               ┆                                ┆           │
//!  │    ┌──────────┴──────────┐          ┌──────────▼──────────┐ │
//!  │    │ inbound handler  1  │          │ outbound handler  M │ │
//!  │    └──────────▲──────────┘          └──────────┬──────────┘ │
//!  └───────────────┼────────────────────────────────┼───────────┘
//!                  │                                ▼
//!        fire_read / fire_* (head)         HeadOp (take_head_ops)
//!  ┌───────────────┴────────────────────────────────┴───────────┐
//!  │      transport: socket read, writev, sendfile, close        │
//!  │      or EmbeddedChannel in tests                            │
//!  └─────────────────────────────────────────────────────────────┘
//! ```
//!
//! Every handler sits in both directions; a method it does not implement
//! passes the event on. [`Context::write`] starts at the handler *before* the
//! caller (Netty's `ctx.write`); [`Pipeline::write`] and
//! [`Context::write_from_tail`] start at the tail (Netty's `channel.write`).
//!
//! # Ordering
//!
//! Dispatch is not re-entrant: while a handler method runs, no other handler
//! runs, and the handler's calls on its [`Context`] are only queued. When the
//! method returns, its queued events run **in the order they were made**,
//! and each one **runs to completion, with everything it causes, before the
//! next** (depth first) — the order a synchronous call chain would give,
//! except that the caller's own remaining code runs first. So a handler that
//! does `ctx.fire_read(a); ctx.fire_read(b)` guarantees that every handler
//! downstream sees `a` (and finishes reacting to it) before it sees `b`, and
//! writes a handler makes from inside `read` reach the head in the order made.
//!
//! Changes to the chain ([`Pipeline::add_last`], [`Context::replace`], ...)
//! are checked and made at once and route every event not yet delivered. A
//! removed handler's `handler_removed` runs after the events queued before
//! the removal; events it fires travel from its old place.
//!
//! # Typed chains
//!
//! A handler declares what it takes and emits in each direction
//! ([`Handler::inbound_types`], [`TypeFlow`], [`MessageTypes`]). Adding,
//! removing or replacing a handler so that a neighbour would emit something
//! the next one does not take fails with [`PipelineError::TypeMismatch`]
//! naming both handlers, and leaves the pipeline unchanged. A message that
//! reaches the tail unconsumed is counted ([`Pipeline::stats`]) and logged
//! with `tracing::warn!` (the 1st, 2nd, 4th, 8th, ... of a pipeline, so a
//! peer cannot flood the log); an exception that reaches the tail unhandled is
//! counted, logged with `tracing::error!`, and closes the channel
//! ([`HeadOp::Close`]).
//!
//! # Tutorial: a codec of your own
//!
//! A protocol of `u8`-length-prefixed UTF-8 commands. The decoder cuts a
//! frame out of the cumulation (no copy) and turns it into a `Command`; the
//! application answers with bytes; an encoder adds the length prefix.
//!
//! ```
//! use bytes::{Buf, Bytes};
//! use weft_buf::CompositeBuf;
//! use weft_pipeline::codec::{ByteToMessageDecoder, FrameDecoder, LengthFieldPrepender};
//! use weft_pipeline::{
//!     Context, EmbeddedChannel, Handler, Message, MessageTypes, Pipeline, PipelineError, TypeFlow,
//! };
//!
//! #[derive(Debug, PartialEq)]
//! struct Command(String);
//!
//! struct CommandDecoder;
//! impl FrameDecoder for CommandDecoder {
//!     fn decode(&mut self, buf: &mut CompositeBuf) -> Result<Option<Message>, PipelineError> {
//!         let Ok(len) = buf.try_get_u8_at(0) else { return Ok(None) }; // need the header
//!         let len = usize::from(len);
//!         if buf.len() < 1 + len {
//!             return Ok(None); // need the body
//!         }
//!         buf.advance(1);
//!         let frame = buf.split_to(len); // segments of the reads: no copy
//!         let text = String::from_utf8(frame.to_bytes().to_vec()).map_err(PipelineError::decode)?;
//!         Ok(Some(Message::user(Command(text))))
//!     }
//!     fn emits(&self) -> MessageTypes {
//!         MessageTypes::of::<Command>()
//!     }
//! }
//!
//! struct App;
//! impl Handler for App {
//!     fn inbound_types(&self) -> TypeFlow {
//!         TypeFlow::sink(MessageTypes::of::<Command>())
//!     }
//!     fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
//!         if let Ok(Command(c)) = msg.downcast::<Command>() {
//!             ctx.write_and_flush(Bytes::from(c.to_uppercase()));
//!         }
//!     }
//! }
//!
//! let mut p = Pipeline::new();
//! p.add_last("framer", LengthFieldPrepender::new(1)?)?
//!     .add_last("decoder", ByteToMessageDecoder::new(CommandDecoder))?
//!     .add_last("app", App)?;
//!
//! let mut ch = EmbeddedChannel::new(p);
//! ch.write_inbound(Bytes::from_static(b"\x04pi"));  // half a command
//! ch.write_inbound(Bytes::from_static(b"ng"));       // the rest
//! assert_eq!(ch.read_outbound_bytes().unwrap(), &b"\x04PING"[..]);
//!
//! // A handler that does not take `Command` cannot follow the decoder:
//! struct BytesOnly;
//! impl Handler for BytesOnly {
//!     fn inbound_types(&self) -> TypeFlow { TypeFlow::sink(MessageTypes::BUFFERS) }
//! }
//! let err = ch.pipeline_mut().add_after("decoder", "raw", BytesOnly).unwrap_err();
//! assert!(err.to_string().contains("`decoder` emits User("), "{err}");
//! # Ok::<(), PipelineError>(())
//! ```
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod chain;
pub mod codec;
mod context;
mod dispatch;
mod embedded;
mod erased;
mod error;
mod handler;
mod handlers;
mod head;
mod idle;
mod message;
mod pipeline;
mod promise;
mod types;
mod value;
mod wire;

pub use context::Context;
pub use embedded::EmbeddedChannel;
pub use erased::Batch;
pub use error::{Direction, PipelineError};
pub use handler::{Event, Handler};
pub use handlers::Handlers;
pub use head::{Head, HeadOp, Recorder, Task, TaskDone};
pub use idle::{IdleState, IdleStateEvent, IdleStateHandler};
pub use message::{Message, MessageKind};
pub use pipeline::{Pipeline, PipelineStats, KEPT_EXCEPTIONS};
pub use promise::{WriteFuture, WritePromise};
pub use types::{MessageType, MessageTypes, Nothing, TypeFlow, UserType};
pub use value::{Value, INLINE_BYTES};
pub use wire::Wire;
