//! A length-framed echo server: each frame (a 4-byte big-endian length,
//! then the body) comes back as it came.
//!
//! ```text
//! cargo run -p weft-transport --example echo -- 127.0.0.1:7007
//! ```

use std::time::Duration;

use weft_buf::CompositeBuf;
use weft_pipeline::codec::{
    ByteToMessageDecoder, LengthFieldBasedFrameDecoder, LengthFieldPrepender,
};
use weft_pipeline::{Batch, Context, Handler, Nothing};
use weft_transport::ServerBuilder;

/// Writes every frame back; flushes once per batch (the frames of one read).
struct Echo;

impl Handler for Echo {
    type In = CompositeBuf;
    type Out = Nothing;

    fn read(&mut self, ctx: &mut Context<'_, Nothing>, frame: CompositeBuf) {
        ctx.write_and_flush(frame);
    }

    fn read_batch(&mut self, ctx: &mut Context<'_, Nothing>, frames: Batch<'_, CompositeBuf>) {
        for frame in frames {
            ctx.write(frame);
        }
        ctx.flush();
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7007".into());
    let server = ServerBuilder::new().bind_tcp(addr.parse()?, |p| {
        let frames = LengthFieldBasedFrameDecoder::new(1 << 20, 0, 4, 0, 4)?;
        p.handlers()
            .add_last("frames", ByteToMessageDecoder::new(frames))?
            .add_last("length", LengthFieldPrepender::new(4)?)?
            .add_last("echo", Echo)?;
        Ok(())
    })?;
    println!("echo server on {:?}", server.local_addr());
    tokio::signal::ctrl_c().await?;
    server.shutdown(Duration::from_secs(5)).await?;
    Ok(())
}
