//! `framed-echo`: the peer for `weft echo --framing length` in
//! `benches/peers.sh`. An echo server written the way a tokio-util user
//! would: `Framed` with `LengthDelimitedCodec` (4-byte big-endian length
//! prefix that does not count itself), every frame sent straight back.
//!
//! Usage: `framed-echo --listen 127.0.0.1:7008`; prints `listening on ADDR`.

use std::net::SocketAddr;
use std::process::ExitCode;

use bytes::Bytes;
use clap::Parser;
use futures::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

/// Largest frame accepted, as `weft echo`'s default.
const MAX_FRAME: usize = 16 << 20;

/// Echo server on tokio-util `Framed` + `LengthDelimitedCodec`.
#[derive(Debug, Parser)]
#[command(name = "framed-echo", about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7008")]
    listen: SocketAddr,
}

async fn serve(args: Args) -> std::io::Result<()> {
    let listener = TcpListener::bind(args.listen).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (sock, _) = listener.accept().await?;
        sock.set_nodelay(true)?;
        tokio::spawn(async move {
            let codec = LengthDelimitedCodec::builder()
                .max_frame_length(MAX_FRAME)
                .new_codec();
            let mut framed = Framed::new(sock, codec);
            // Feed every frame already decoded, flush once the reads run
            // dry: the batching a careful Framed user writes.
            while let Some(Ok(frame)) = framed.next().await {
                if framed.feed(frame.freeze()).await.is_err() {
                    return;
                }
                let ended = loop {
                    match framed.next().now_or_never() {
                        Some(Some(Ok(frame))) => {
                            if framed.feed(frame.freeze()).await.is_err() {
                                return;
                            }
                        }
                        Some(_) => break true,
                        None => break false,
                    }
                };
                if SinkExt::<Bytes>::flush(&mut framed).await.is_err() || ended {
                    return;
                }
            }
        });
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("framed-echo: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("framed-echo: {e}");
            ExitCode::FAILURE
        }
    }
}
