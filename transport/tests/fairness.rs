//! Fairness between the connections of one thread: a big body going out
//! on one connection does not keep another connection's answer waiting
//! until it is done. Counts and order only, no timings.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::timeout;
use weft_buf::FileRegion;
use weft_pipeline::{Context, Handler, Message, Nothing};
use weft_transport::{Channel, ChannelConfig, ServerBuilder};

use common::TEST_TIMEOUT;

const GIB: u64 = 1 << 30;

/// `B` asks for the big region, anything else for a short answer.
struct Files(Arc<std::fs::File>);

impl Handler for Files {
    type In = Message;
    type Out = Nothing;

    fn read(&mut self, ctx: &mut Context<'_, Nothing>, msg: Message) {
        let asked = msg.to_bytes().unwrap_or_default();
        if asked.first() == Some(&b'B') {
            match FileRegion::new(self.0.clone(), 0, GIB) {
                Ok(region) => ctx.write_and_flush(region),
                Err(_) => ctx.close(),
            }
        } else {
            ctx.write_and_flush(Bytes::from_static(b"small answer"));
        }
    }
}

/// A sparse 1 GiB file: the page cache serves it as zeros, no disk used.
fn sparse_gib() -> std::fs::File {
    let f = tempfile::tempfile().unwrap();
    f.set_len(GIB).unwrap();
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connection_is_answered_while_a_gib_file_region_goes_out() {
    timeout(TEST_TIMEOUT, async {
        let file = Arc::new(sparse_gib());
        let (chan_tx, mut chans) = mpsc::unbounded_channel::<Channel>();
        let chunk = 256 * 1024;
        // One server thread serves both connections.
        let server = ServerBuilder::new()
            .threads(1)
            .max_write_chunk(chunk)
            .write_budget(512 * 1024)
            .on_channel(move |ch| {
                let _ = chan_tx.send(ch);
            })
            .bind_tcp("127.0.0.1:0".parse().unwrap(), move |p| {
                p.handlers().add_last("files", Files(file.clone()))?;
                Ok(())
            })
            .unwrap();
        let addr = server.local_addr().unwrap();

        // A downloads the GiB with a reader that drains as fast as it can.
        let mut a = tokio::net::TcpStream::connect(addr).await.unwrap();
        let a_channel = chans.recv().await.unwrap();
        a.write_all(b"B").await.unwrap();
        let received = Arc::new(AtomicU64::new(0));
        let got = received.clone();
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                match a.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        got.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }
            }
        });
        // The download is under way: a few MiB have arrived (bounded wait).
        for _ in 0..2000 {
            if received.load(Ordering::Relaxed) >= 4 << 20 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(
            received.load(Ordering::Relaxed) >= 4 << 20,
            "the download did not start"
        );

        // B asks for a short answer on the same server thread.
        let mut b = tokio::net::TcpStream::connect(addr).await.unwrap();
        b.write_all(b"S").await.unwrap();
        let mut answer = [0u8; 12];
        b.read_exact(&mut answer).await.unwrap();
        let a_when_b_answered = received.load(Ordering::Relaxed);
        assert_eq!(&answer, b"small answer");
        assert!(
            a_when_b_answered < GIB,
            "B was answered only after A's whole GiB ({a_when_b_answered} bytes)"
        );

        // A's body goes out in calls of at most the chunk, and its
        // connection gave way at the budget.
        let s = a_channel.stats();
        assert!(s.sendfile_calls > 0);
        assert!(
            s.sendfile_bytes <= s.sendfile_calls * chunk as u64,
            "a sendfile moved more than the {chunk}-byte chunk: {s:?}"
        );
        assert!(s.write_yields > 0, "{s:?}");

        reader.abort();
        drop(b);
        server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_file_region_goes_out_whole_in_calls_no_larger_than_the_chunk() {
    timeout(TEST_TIMEOUT, async {
        let (f, want) = common::pattern_file(7, 3 << 20);
        let file = Arc::new(f);
        let (chan_tx, mut chans) = mpsc::unbounded_channel::<Channel>();
        let mut cfg = ChannelConfig::default();
        cfg.max_write_chunk(64 * 1024)
            .write_budget(128 * 1024)
            .max_writes_per_wakeup(4);
        let len = want.1;
        let server = ServerBuilder::new()
            .config(cfg)
            .on_channel(move |ch| {
                let _ = chan_tx.send(ch);
            })
            .bind_tcp("127.0.0.1:0".parse().unwrap(), move |p| {
                struct Whole(Arc<std::fs::File>, u64);
                impl Handler for Whole {
                    type In = Message;
                    type Out = Nothing;
                    fn read(&mut self, ctx: &mut Context<'_, Nothing>, _m: Message) {
                        match FileRegion::new(self.0.clone(), 0, self.1) {
                            Ok(r) => {
                                ctx.write_and_flush(r);
                                ctx.close();
                            }
                            Err(_) => ctx.close(),
                        }
                    }
                }
                p.handlers().add_last("whole", Whole(file.clone(), len))?;
                Ok(())
            })
            .unwrap();
        let mut c = tokio::net::TcpStream::connect(server.local_addr().unwrap())
            .await
            .unwrap();
        let ch = chans.recv().await.unwrap();
        c.write_all(b"go").await.unwrap();
        assert_eq!(common::hash_to_end(c).await.unwrap(), want);
        let s = ch.stats();
        assert_eq!(s.sendfile_bytes, len);
        assert!(s.sendfile_calls >= len / (64 * 1024), "{s:?}");
        assert!(s.write_yields > 0, "{s:?}");
        server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}
