//! Bounded memory: idle connections hold no buffers, a paused connection
//! gives back its receive chunk, and a server refuses connections past
//! its limit. Counts only.
//!
//! The tests run on the test's current-thread runtime with the server's
//! acceptor on it, so when a connection's [`Channel::execute`] closure has
//! answered, the connection has gone round its loop and published what
//! it holds before the test runs again.

mod common;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;
use weft_pipeline::{Context, Handler, Message, Nothing};
use weft_transport::{Channel, ServerBuilder};

use common::TEST_TIMEOUT;

/// Writes every read back, flushed.
struct Echo;

impl Handler for Echo {
    type In = Message;
    type Out = Nothing;
    fn read(&mut self, ctx: &mut Context<'_, Nothing>, msg: Message) {
        ctx.write_and_flush(msg);
    }
}

/// Runs a no-op on the connection's task and waits for it: afterwards the
/// connection has published its held bytes (see the module docs).
async fn barrier(ch: &Channel) {
    let (tx, rx) = oneshot::channel();
    ch.execute(move |_p| {
        let _ = tx.send(());
    });
    rx.await.unwrap();
    tokio::task::yield_now().await;
}

#[tokio::test]
async fn idle_keep_alive_connections_hold_no_buffers() {
    timeout(TEST_TIMEOUT, async {
        let (chan_tx, mut chans) = mpsc::unbounded_channel::<Channel>();
        let server = ServerBuilder::new()
            .on_channel(move |ch| {
                let _ = chan_tx.send(ch);
            })
            .bind_tcp("127.0.0.1:0".parse().unwrap(), |p| {
                p.handlers().add_last("echo", Echo)?;
                Ok(())
            })
            .unwrap();
        let addr = server.local_addr().unwrap();
        let mut conns = Vec::new();
        for i in 0..50u8 {
            let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
            let ch = chans.recv().await.unwrap();
            let msg = vec![i; 3000];
            c.write_all(&msg).await.unwrap();
            let mut back = vec![0u8; msg.len()];
            c.read_exact(&mut back).await.unwrap();
            assert_eq!(back, msg);
            conns.push((c, ch));
        }
        for (_c, ch) in &conns {
            barrier(ch).await;
            assert_eq!(ch.stats().bytes_read, 3000);
            assert_eq!(ch.held_bytes(), 0, "an idle connection holds buffer memory");
        }
        drop(conns);
        server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_receive_chunk_is_released_when_auto_read_is_turned_off() {
    timeout(TEST_TIMEOUT, async {
        /// Stops reading after the first read (which filled its chunk).
        struct PauseAfterFirst(mpsc::UnboundedSender<usize>);
        impl Handler for PauseAfterFirst {
            type In = Message;
            type Out = Nothing;
            fn read(&mut self, ctx: &mut Context<'_, Nothing>, msg: Message) {
                ctx.set_auto_read(false);
                let _ = self.0.send(msg.to_bytes().map_or(0, |b| b.len()));
            }
        }
        let (reads_tx, mut reads) = mpsc::unbounded_channel();
        let (chan_tx, mut chans) = mpsc::unbounded_channel::<Channel>();
        let server = ServerBuilder::new()
            .on_channel(move |ch| {
                let _ = chan_tx.send(ch);
            })
            .bind_tcp("127.0.0.1:0".parse().unwrap(), move |p| {
                p.handlers()
                    .add_last("pause", PauseAfterFirst(reads_tx.clone()))?;
                Ok(())
            })
            .unwrap();
        let mut c = tokio::net::TcpStream::connect(server.local_addr().unwrap())
            .await
            .unwrap();
        let ch = chans.recv().await.unwrap();
        // More than one read's worth: the read fills its chunk, and the
        // socket is not drained when reading stops.
        c.write_all(&vec![7u8; 64 * 1024]).await.unwrap();
        let first = reads.recv().await.unwrap();
        assert!(first > 0 && first < 64 * 1024, "first read: {first}");
        barrier(&ch).await;
        assert_eq!(
            ch.stats().bytes_read,
            first as u64,
            "nothing read while paused"
        );
        assert_eq!(
            ch.held_bytes(),
            0,
            "a paused connection still holds its receive chunk"
        );
        // Reading again takes a chunk again and goes on where it stopped.
        ch.set_auto_read(true);
        let mut rest = 0;
        while rest < 64 * 1024 - first {
            rest += reads.recv().await.unwrap();
            ch.set_auto_read(true);
        }
        assert_eq!(rest, 64 * 1024 - first);
        server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn connections_past_max_connections_are_closed_at_once_and_counted() {
    timeout(TEST_TIMEOUT, async {
        let server = ServerBuilder::new()
            .max_connections(Some(2))
            .bind_tcp("127.0.0.1:0".parse().unwrap(), |p| {
                p.handlers().add_last("echo", Echo)?;
                Ok(())
            })
            .unwrap();
        let addr = server.local_addr().unwrap();
        async fn round_trip(c: &mut tokio::net::TcpStream) {
            c.write_all(b"ping").await.unwrap();
            let mut b = [0u8; 4];
            c.read_exact(&mut b).await.unwrap();
            assert_eq!(&b, b"ping");
        }
        let mut one = tokio::net::TcpStream::connect(addr).await.unwrap();
        round_trip(&mut one).await;
        let mut two = tokio::net::TcpStream::connect(addr).await.unwrap();
        round_trip(&mut two).await;
        assert_eq!(server.stats().active, 2);

        // The third is accepted and closed: its peer reads the end.
        let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = third.write_all(b"ping").await;
        let mut b = [0u8; 4];
        let n = third.read(&mut b).await.unwrap_or(0);
        assert_eq!(n, 0, "a connection past the limit was served");
        let s = server.stats();
        assert_eq!((s.accepted, s.active, s.refused), (3, 2, 1));

        // Once one closes, a new connection is served again.
        drop(one);
        for _ in 0..1000 {
            if server.stats().active < 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let mut four = tokio::net::TcpStream::connect(addr).await.unwrap();
        round_trip(&mut four).await;
        round_trip(&mut two).await;
        let s = server.stats();
        assert_eq!((s.accepted, s.active, s.refused), (4, 2, 1));
        server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn tasks_handlers_spawn_still_answer_and_leave_nothing_held() {
    timeout(TEST_TIMEOUT, async {
        /// Answers each read after an asynchronous step, in order.
        struct Later;
        impl Handler for Later {
            type In = Message;
            type Out = Nothing;
            fn read(&mut self, ctx: &mut Context<'_, Nothing>, msg: Message) {
                let got = msg.to_bytes().unwrap_or_default();
                let step = async move {
                    tokio::task::yield_now().await;
                    got
                };
                ctx.spawn(step, |_this: &mut Self, ctx, got| ctx.write_and_flush(got));
            }
        }
        let (chan_tx, mut chans) = mpsc::unbounded_channel::<Channel>();
        let server = ServerBuilder::new()
            .on_channel(move |ch| {
                let _ = chan_tx.send(ch);
            })
            .bind_tcp("127.0.0.1:0".parse().unwrap(), |p| {
                p.handlers().add_last("later", Later)?;
                Ok(())
            })
            .unwrap();
        let mut c = tokio::net::TcpStream::connect(server.local_addr().unwrap())
            .await
            .unwrap();
        let ch = chans.recv().await.unwrap();
        // Three rounds: the task list is made, emptied and made again.
        for round in 0..3u8 {
            let msg = [b'a' + round; 5];
            c.write_all(&msg).await.unwrap();
            let mut back = [0u8; 5];
            c.read_exact(&mut back).await.unwrap();
            assert_eq!(back, msg);
            barrier(&ch).await;
            assert_eq!(ch.held_bytes(), 0);
        }
        server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}
