//! Quick start: a custom length-prefixed protocol server.
//!
//! A frame is a 4-byte big-endian length, then that many bytes. The server
//! answers a frame carrying a name with the frame `hello, <name>`, built
//! from a static prefix and the very bytes that were read: nothing is copied.
//!
//! `cargo run -p weft-examples --example lenproto -- 127.0.0.1:7000`
use bytes::Bytes;
use weft_buf::CompositeBuf;
use weft_pipeline::codec::{ByteToMessageDecoder, LengthFieldBasedFrameDecoder as Frames};
use weft_pipeline::{codec::LengthFieldPrepender, Batch, Context, Handler, Nothing};
use weft_transport::ServerBuilder;

/// Answers each name frame with `hello, <name>`.
struct Greeter;

impl Handler for Greeter {
    type In = CompositeBuf; // a frame, in one read or spanning several
    type Out = Nothing;

    fn read(&mut self, ctx: &mut Context<'_, Nothing>, name: CompositeBuf) {
        let mut reply = CompositeBuf::from(Bytes::from_static(b"hello, "));
        reply.append(name);
        ctx.write(reply); // the prepender adds the 4-byte length in front
    }

    fn read_batch(&mut self, ctx: &mut Context<'_, Nothing>, names: Batch<'_, CompositeBuf>) {
        names.for_each(|name| self.read(ctx, name));
        ctx.flush(); // one writev for every reply of this read
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:7000".into());
    let server = ServerBuilder::new().bind_tcp(addr.parse()?, |p| {
        // at most 64 KiB + 4 per frame; a 4-byte length at offset 0, stripped
        let frames = Frames::new(65_540, 0, 4, 0, 4)?;
        p.handlers()
            .add_last("frames", ByteToMessageDecoder::new(frames))?
            .add_last("length", LengthFieldPrepender::new(4)?)?
            .add_last("greeter", Greeter)?;
        Ok(())
    })?;
    println!("listening on {}", server.local_addr().ok_or("not bound")?);
    tokio::signal::ctrl_c().await?;
    server.shutdown(std::time::Duration::from_secs(1)).await?;
    Ok(())
}
