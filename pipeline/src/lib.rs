//! Weft's pipeline: a typed, changeable chain of handlers with zero-copy
//! framing codecs, tested without sockets.
//!
//! # The pipeline
//!
//! A [`Pipeline`] is an ordered list of named [`Handler`]s between a
//! [`Head`] (the channel: a socket in `weft-transport`, a [`Recorder`] in
//! tests) and a tail. Inbound events (a read, "channel active", an
//! exception, ...) travel from the head towards the tail; outbound
//! operations (write, flush, close) travel from where they are issued
//! towards the head, which performs them.
//!
//! ```text
//!                inbound: every joint is typed (Out of one = In of the next)
//!  ┌──────────────────────────────────────────────────────────────────────┐
//!  │ Pipeline                                                             │
//!  │       CompositeBuf            Frame           Request                │
//!  │  head ───────────▶ [decoder] ─────▶ [codec] ─────────▶ [app] ─▶ tail │
//!  │   ▲                In → Out       In → Out      In → Nothing         │
//!  │   │                                                                  │
//!  │   │     Wire              Message           Message                  │
//!  │  head ◀─────────── [encoder] ◀───── [codec] ◀───────── [app] ◀─ tail │
//!  │   │    outbound: write / flush / close, from ctx (before the caller) │
//!  │   │    or from the tail (Pipeline::write, ctx.write_from_tail)       │
//!  └───┼──────────────────────────────────────────────────────────────────┘
//!      ▼  Head::{write(Wire), flush, close}   set_auto_read, is_writable,
//!         spawn: channel state and tasks, reached at once through Context
//!   transport: socket read, writev, sendfile, close
//!   or EmbeddedChannel (a Recorder head) in tests
//! ```
//!
//! Every handler sits in both directions; a method it does not implement
//! passes the event on. A handler receives its own [`In`](Handler::In)
//! type — no `Box<dyn Any>`, no downcast — and its [`Context`] only lets
//! it hand on an [`Out`](Handler::Out). [`Context::write`] starts at the
//! handler *before* the caller (Netty's `ctx.write`); [`Pipeline::write`]
//! and [`Context::write_from_tail`] start at the tail (Netty's
//! `channel.write`). A write reaches the head as a [`Wire`] (bytes, a
//! composite, a file region): the one type the transport takes, with no
//! translation on the way. Channel state (auto-read, writability) has one
//! owner, the head: [`Context::set_auto_read`] and
//! [`Context::is_writable`] reach it at once.
//!
//! # Ordering
//!
//! Dispatch is not re-entrant: while a handler method runs, no other handler
//! runs, and the handler's calls on its [`Context`] are only queued. When the
//! method returns, its queued events run **in the order they were made**,
//! and each one **runs to completion, with everything it causes, before the
//! next** (depth first) — the order a synchronous call chain would give,
//! except that the caller's own remaining code runs first. So a handler that
//! does `ctx.fire_read(a); ctx.fire_event(e); ctx.fire_read(b)` guarantees
//! that every handler downstream sees `a` (and finishes reacting to it)
//! before it sees `e`, and `e` before `b`; writes a handler makes from
//! inside `read` reach the head in the order made.
//!
//! **Consecutive reads fired in one call travel as one batch**: the next
//! handler gets them in one [`Handler::read_batch`] call (whose default
//! calls [`read`](Handler::read) for each, in order). All the frames a
//! [`ByteToMessageDecoder`](codec::ByteToMessageDecoder) cuts from one
//! socket read arrive this way, so a handler can answer a read's requests
//! with one write. Any other event fired between two reads ends the batch.
//!
//! Changes to the chain ([`Pipeline::handlers`], [`Context::handlers`]:
//! add, remove, replace) are checked and made at once and route every event
//! not yet delivered. A removed handler's `handler_removed` runs after the
//! events queued before the removal; events it fires travel from its old
//! place. Work a handler starts with [`Context::spawn`] runs on the
//! connection's task; its continuation comes back to the same handler as an
//! event, in order with the rest, or is skipped if the handler has left.
//!
//! # Typed chains
//!
//! The chain's types come from the handlers themselves: a handler's
//! [`In`](Handler::In) and [`Out`](Handler::Out) ([`MessageType`]s). When a
//! handler is added, removed or replaced, each handler's `Out` must be what
//! the next one takes; otherwise the change fails with
//! [`PipelineError::TypeMismatch`] naming both handlers, and the pipeline
//! is unchanged. [`Message`] as `In` and `Out` means "any message": such a
//! handler (a logger, an idle timer) fits anywhere and is looked through by
//! the check; a typed handler behind it is checked at run time, and a
//! message it cannot take becomes a [`PipelineError::UnexpectedMessage`]
//! exception, never a panic. [`Nothing`] is the `Out` of a handler that
//! hands nothing on. The framing decoders emit [`CompositeBuf`](weft_buf::CompositeBuf)
//! (one segment for a frame inside one read, several for one that spanned
//! reads; never copied). A type of your own travels with one line,
//! `impl MessageType for MyFrame {}`, inline (no heap allocation) when
//! [`Value::fits_inline`] (at most [`INLINE_BYTES`]).
//!
//! Where a chain is put together in one place, [`Pipeline::typed`] lets the
//! compiler check it instead: `then` only takes a handler whose `In` is the
//! previous handler's `Out` ([`TypedHandlers`]), and the result is the same
//! named chain, still changeable at run time (and checked then).
//!
//! Outbound, a handler declares what it takes and writes with
//! [`Handler::outbound_types`] ([`TypeFlow`], [`MessageTypes`]), checked
//! from tail to head. A message that reaches the tail unconsumed is counted
//! ([`Pipeline::stats`]) and logged with `tracing::warn!` (the 1st, 2nd,
//! 4th, 8th, ... of a pipeline, so a peer cannot flood the log); an
//! exception that reaches the tail unhandled is counted, logged with
//! `tracing::error!`, and closes the channel ([`HeadOp::Close`]).
//!
//! # Tutorial: a codec of your own
//!
//! A protocol of `u8`-length-prefixed UTF-8 commands. The decoder cuts a
//! frame out of the cumulation (no copy) and turns it into a `Command`; the
//! application takes `Command`s and answers with bytes; an encoder adds the
//! length prefix.
//!
//! ```
//! use bytes::{Buf, Bytes};
//! use weft_buf::CompositeBuf;
//! use weft_pipeline::codec::{ByteToMessageDecoder, FrameDecoder, LengthFieldPrepender};
//! use weft_pipeline::{
//!     Context, EmbeddedChannel, Handler, MessageType, Nothing, Pipeline, PipelineError, Value,
//! };
//!
//! #[derive(Debug, PartialEq)]
//! struct Command(String);
//! impl MessageType for Command {} // travels between handlers...
//! const _: () = assert!(Value::fits_inline::<Command>()); // ...with no allocation
//!
//! struct CommandDecoder;
//! impl FrameDecoder for CommandDecoder {
//!     type Frame = Command;
//!     fn decode(
//!         &mut self,
//!         _ctx: &mut Context<'_, Command>,
//!         buf: &mut CompositeBuf,
//!     ) -> Result<Option<Command>, PipelineError> {
//!         let Ok(len) = buf.try_get_u8_at(0) else { return Ok(None) }; // need the header
//!         let len = usize::from(len);
//!         if buf.len() < 1 + len {
//!             return Ok(None); // need the body
//!         }
//!         buf.advance(1);
//!         let frame = buf.split_to(len); // segments of the reads: no copy
//!         let text = String::from_utf8(frame.to_bytes().to_vec()).map_err(PipelineError::decode)?;
//!         Ok(Some(Command(text)))
//!     }
//! }
//!
//! struct App;
//! impl Handler for App {
//!     type In = Command;
//!     type Out = Nothing;
//!     fn read(&mut self, ctx: &mut Context<'_, Nothing>, Command(c): Command) {
//!         ctx.write_and_flush(Bytes::from(c.to_uppercase()));
//!     }
//! }
//!
//! let mut p = Pipeline::new();
//! p.handlers()
//!     .add_last("framer", LengthFieldPrepender::new(1)?)?
//!     .add_last("decoder", ByteToMessageDecoder::new(CommandDecoder))?
//!     .add_last("app", App)?;
//!
//! let mut ch = EmbeddedChannel::new(p);
//! ch.write_inbound(Bytes::from_static(b"\x04pi")); // half a command
//! ch.write_inbound(Bytes::from_static(b"ng")); // the rest
//! assert_eq!(ch.read_outbound_bytes().unwrap(), &b"\x04PING"[..]);
//!
//! // A handler that does not take `Command` cannot follow the decoder:
//! struct BytesOnly;
//! impl Handler for BytesOnly {
//!     type In = CompositeBuf;
//!     type Out = Nothing;
//!     fn read(&mut self, _ctx: &mut Context<'_, Nothing>, _frame: CompositeBuf) {}
//! }
//! let err = ch.pipeline_mut().handlers().add_after("decoder", "raw", BytesOnly).unwrap_err();
//! let text = err.to_string();
//! assert!(text.contains("`decoder` emits User(") && text.contains("`raw` takes"), "{text}");
//! # Ok::<(), PipelineError>(())
//! ```
//!
//! # Design: why typed handlers, inline values and batches
//!
//! Turn 1 carried every message as an enum with user values boxed
//! (`Box<dyn Any>`), queued one event per message, translated a write
//! through four enums on its way to the socket, and left each handler to
//! downcast. Weft's own RESP and HTTP servers went around it. Issue 10 set
//! the shape v2 had to have; these are the choices, and why.
//!
//! - **One typed trait, a dynamic named chain.** A handler declares
//!   `type In` and `type Out`; the chain stores handlers behind one
//!   object-safe vtable (`erased.rs`) that converts [`Message`] to and from
//!   the handler's types in one place. Named, replaceable stages (Netty's
//!   protocol switch) need a dynamic chain; typing the handler rather than
//!   the chain keeps that, and [`Pipeline::typed`] adds the compile-time
//!   check where a chain is built statically. Considered and not taken:
//!   tower-style layers composed into one generic stage (fast, but a stage
//!   can no longer be replaced by name, and a decoder/handler pair becomes
//!   one type per protocol), and per-type queues (a type-erased `Vec<T>`
//!   per joint: built and measured, no gain; see below).
//! - **Inline values.** [`Message::User`] holds a [`Value`]: a small box
//!   with 80 bytes in place, so a RESP request or an HTTP request head
//!   (both designed to fit, and checked by `const` asserts in
//!   `weft-examples`) crosses a joint with no allocation.
//! - **Batches.** Consecutive reads a handler fires in one call share one
//!   queue slot; the next handler gets them in one [`Handler::read_batch`]
//!   call. Per frame that leaves a vector push and a conversion; per read,
//!   one dispatch per hop. A handler answers a batch with one write.
//! - **One head.** [`Head`] is the only way out of the pipeline; a write
//!   reaches it as the [`Wire`] it is (the transport's outbound buffer
//!   queues that same type), auto-read and writability are the head's
//!   state, and [`Context::spawn`] hands a future to the head, whose
//!   continuation comes back through [`Pipeline::complete`].
//!
//! Measured on this project's 2-core VM (commands below; each ratio from
//! one run of both sides; the machine was shared, so treat single figures
//! as ±20%):
//!
//! | what (command) | Weft | peer | ratio | target |
//! | --- | --- | --- | --- | --- |
//! | 8 pass-through hops vs 1, typed (`cargo bench -p weft-benches --bench dispatch`) | 216 ns/frame | 110 ns/frame (1 hop) | 1.96 | ≤ 1.5 (missed) |
//! | the same with `Message` ("any") hops | 231 ns/frame | 81 ns/frame | 2.86 | — |
//! | small frames, `cargo bench -p weft-benches --bench decode` | 1.93 GiB/s, 0 B copied | `FramedRead` 3.06 GiB/s | 0.63 | ≥ 1.2 (missed) |
//! | echo, 64 B frames, 64 in flight × 4 connections (`benches/peers.sh --only echo`) | 2.70 M frames/s, 342 ns CPU/frame | `Framed` 3.20 M, 256 ns | 0.84, CPU 1.34 | ≥ 1.2, CPU ≤ 0.8 (missed) |
//! | echo, 64 B, 1 in flight | 47 k frames/s | `Framed` 92 k | 0.51 | ≥ 1.0 (missed) |
//! | echo, 8 × 1 KiB frames | 237 k frames/s, 2.95 µs CPU/frame | `Framed` 126 k, 6.70 µs | 1.88, CPU 0.44 | ≥ 1.3 (met) |
//! | echo vs Netty 4.1 (`benches/peers.sh --only netty`), 64 B / 1 KiB / 8 KiB | 2.65 M / 1.41 M / 259 k frames/s | 0.87 M / 0.75 M / 215 k | 3.03 / 1.88 / 1.21; CPU 0.30 / 0.50 / 0.82 | ahead on every size (met) |
//! | RESP PING / SET / GET, `redis-benchmark -P 16` (`benches/peers.sh --only resp`) | 1.09 M / 0.82 M / 0.63 M req/s | redis-server 1.08 M / 0.77 M / 0.85 M | 1.01 / 1.07 / 0.74; CPU/req 0.90 / 0.92 / 1.45 | ≥ 1.0 (PING, SET met; GET missed) |
//! | the same at `-P 1` | 94 k / 85 k / 86 k | 110 k / 92 k / 97 k | 0.85 / 0.92 / 0.88; CPU/req 1.57 / 1.53 / 1.44 | ≥ 1.0 (missed) |
//!
//! Where the time goes (perf, strace): a pipeline hop costs about 15 ns a
//! frame, moving each frame out of one batch vector and into the next as a
//! [`Message`] (112 bytes, the size of a
//! [`CompositeBuf`](weft_buf::CompositeBuf) with its lazily built offset
//! table). Per-type batch vectors (each joint a `Vec` of the sender's `Out`,
//! no conversion) were built and measured: 15.7 ns a hop and the same decode
//! throughput, so they were not kept; the cost is the moves and the push,
//! not the conversion. In the decode bench the rest is
//! the frame itself: a `CompositeBuf` per frame where `FramedRead` hands out
//! a 32-byte `Bytes`. On the socket, the echo server spends 63–75% of its
//! time in the kernel with the same number of `read` and `writev` calls per
//! frame as the `Framed` server; at one frame in flight the cost is the
//! wakeup per frame (`writev`'s loopback delivery waking the client,
//! `epoll_wait`), where Weft's connection loop (a `select!` over socket,
//! handle commands, tasks, timers and shutdown) costs more per wakeup than
//! `Framed`'s single read future. RESP `GET` sends each value as its own
//! segment (zero-copy), which for redis-benchmark's 3-byte values costs more
//! than the copy redis-server makes.
//!
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
pub use handlers::{Handlers, TypedHandlers};
pub use head::{Head, HeadOp, Recorder, Task, TaskDone};
pub use idle::{IdleState, IdleStateEvent, IdleStateHandler};
pub use message::{Message, MessageKind};
pub use pipeline::{Pipeline, PipelineStats, KEPT_EXCEPTIONS};
pub use promise::{WriteFuture, WritePromise};
pub use types::{MessageType, MessageTypes, Nothing, TypeFlow, UserType};
pub use value::{Value, INLINE_BYTES};
pub use wire::Wire;
