//! `weft resp`: a Redis-protocol (RESP2, and RESP3 after `HELLO 3`)
//! in-memory key-value server that answers as redis-server 7 does.
//!
//! The pipeline of each connection is a decoder and a typed handler:
//!
//! ```text
//!  read ──▶ "decoder": ByteToMessageDecoder<RespDecoder> ──▶ RespFrame per request
//!            (cumulation of the reads;  parser: request.rs fast path, parser.rs otherwise)
//!                                                   │ one batch per read, inline values
//!                                                   ▼
//!           "resp": RespHandler ── command::execute(Db locked once per batch) ──┐ Reply
//!  socket ◀── one writev ◀── ONE write + ONE flush ◀── ReplyWriter: ["$5\r\n"][value]["\r\n..."]
//! ```
//!
//! Values are never copied in user space: a request that lies inside one
//! read is a slice of it plus argument offsets ([`request::Request`], 80
//! bytes, carried inside the message without an allocation); `SET` stores
//! its value as a slice of the read, and `GET` sends it back as a header
//! segment plus that same slice. A request that spans reads keeps its
//! arguments as slices of each read (one vector allocated for it).
//!
//! Protocol errors answer `-ERR Protocol error: ...` and close the connection
//! after the reply, as Redis does; command errors (`-ERR wrong number of
//! arguments ...`) keep it open.
//!
//! Limits, checked before anything waits for or allocates what a header
//! announces: a bulk string of at most 512 MB ([`protocol::MAX_BULK_LEN`],
//! as Redis' `proto-max-bulk-len`), at most 1 Mi arguments, at most 64 KiB
//! buffered while the end of a header or inline line has not arrived (as
//! Redis: a 70 KiB inline line in one read is answered), 1 GiB per
//! request. Requests are flat arrays of bulk strings; a nested array is a
//! protocol error.
//!
//! The trade-off of keeping values as slices of the reads: a stored value
//! keeps the whole receive chunk it arrived in alive (a 3-byte value can pin
//! a 16 KiB chunk until it is overwritten or deleted). Many small values
//! arriving together share their chunks, so memory is bounded by the chunks
//! of live values; a server for long-lived tiny values would copy values
//! under a size threshold instead (a counted copy).
//!
//! Expiry is lazy (a key is removed when it is read after its deadline) plus
//! a sweep every [`server::SWEEP_PERIOD`] of at most [`db::SWEEP_BATCH`]
//! keys, soonest deadline first.

pub mod command;
pub mod db;
pub mod decoder;
mod inline;
pub mod number;
pub mod parser;
pub mod protocol;
pub mod reply;
pub mod request;
pub mod server;
pub mod stats;
pub mod value;

use std::net::SocketAddr;

/// Arguments of `weft resp`.
#[derive(Debug, Clone, clap::Args)]
pub struct RespArgs {
    /// Address to listen on (`127.0.0.1:0` picks a free port, printed on the
    /// first line as `listening on ADDR`).
    #[arg(long, default_value = "127.0.0.1:6379")]
    pub listen: SocketAddr,
}

/// Runs `weft resp` until SIGINT/SIGTERM.
///
/// # Errors
///
/// I/O errors binding the address or installing signal handlers.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// use weft_examples::resp::{run, RespArgs};
/// run(RespArgs { listen: "127.0.0.1:0".parse().unwrap() }).await
/// # }
/// ```
pub async fn run(args: RespArgs) -> std::io::Result<()> {
    server::run(args.listen).await
}
