//! Servers, clients and channels driving real pipelines over loopback.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::timeout;
use weft_buf::CompositeBuf;
use weft_pipeline::codec::{
    ByteToMessageDecoder, LengthFieldBasedFrameDecoder, LengthFieldPrepender,
};
use weft_pipeline::{
    Context, Event as PipelineEvent, Handler, IdleStateHandler, Message, Nothing, Pipeline,
    PipelineError,
};
use weft_transport::{connect_tcp, connect_unix, Channel, ChannelConfig, Server, ServerBuilder};

/// Echoes each frame; panics on the frame "panic".
struct Echo;

impl Handler for Echo {
    type In = CompositeBuf;
    type Out = Nothing;

    fn read(&mut self, ctx: &mut Context<'_, Nothing>, frame: CompositeBuf) {
        if frame == b"panic"[..] {
            panic!("the client asked for a panic");
        }
        ctx.write(frame);
    }

    fn event(&mut self, ctx: &mut Context<'_, Nothing>, event: PipelineEvent) {
        if matches!(event, PipelineEvent::ReadComplete) {
            ctx.flush();
        }
        ctx.fire_event(event);
    }
}

/// Sends every inbound frame (and writability change) to a test.
struct Collect(mpsc::UnboundedSender<Event>);

#[derive(Debug, PartialEq)]
enum Event {
    Frame(Bytes),
    Writable(bool),
    Inactive,
}

impl Handler for Collect {
    type In = Message;
    type Out = Nothing;

    fn read(&mut self, _ctx: &mut Context<'_, Nothing>, frame: Message) {
        let _ = self
            .0
            .send(Event::Frame(frame.to_bytes().unwrap_or_default()));
    }
    fn event(&mut self, _ctx: &mut Context<'_, Nothing>, event: PipelineEvent) {
        match event {
            PipelineEvent::Writability(w) => {
                let _ = self.0.send(Event::Writable(w));
            }
            PipelineEvent::Inactive => {
                let _ = self.0.send(Event::Inactive);
            }
            _ => {}
        }
    }
}

fn framing(p: &mut Pipeline) -> Result<(), PipelineError> {
    let frames = LengthFieldBasedFrameDecoder::new(1 << 20, 0, 4, 0, 4)?;
    p.handlers()
        .add_last("frames", ByteToMessageDecoder::new(frames))?
        .add_last("length", LengthFieldPrepender::new(4)?)?;
    Ok(())
}

fn echo_init(p: &mut Pipeline) -> Result<(), PipelineError> {
    framing(p)?;
    p.handlers().add_last("echo", Echo)?;
    Ok(())
}

fn echo_server() -> Server {
    ServerBuilder::new()
        .bind_tcp("127.0.0.1:0".parse().unwrap(), echo_init)
        .unwrap()
}

async fn client(server: &Server) -> (Channel, mpsc::UnboundedReceiver<Event>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let ch = connect_tcp(
        server.local_addr().unwrap(),
        &ChannelConfig::default(),
        |p| {
            framing(p)?;
            p.handlers().add_last("collect", Collect(tx))?;
            Ok(())
        },
    )
    .await
    .unwrap();
    (ch, rx)
}

fn frames(n: usize) -> Vec<Bytes> {
    (0..n)
        .map(|i| Bytes::from(pattern(i as u64, (i * 37) % 5000)))
        .collect()
}

async fn echo_round_trip(ch: &Channel, rx: &mut mpsc::UnboundedReceiver<Event>, n: usize) {
    let sent = frames(n);
    let mut futures = Vec::new();
    for (i, f) in sent.iter().enumerate() {
        futures.push(ch.write(f.clone()));
        if i % 50 == 49 {
            ch.flush();
        }
    }
    ch.flush();
    for f in futures {
        f.await.unwrap();
    }
    for w in &sent {
        loop {
            match rx.recv().await.unwrap() {
                Event::Frame(got) => {
                    assert_eq!(&got, w);
                    break;
                }
                // The client's own watermarks may be crossed on the way.
                Event::Writable(_) => {}
                Event::Inactive => panic!("closed early"),
            }
        }
    }
}

#[tokio::test]
async fn echo_with_length_framing_carries_many_frames_both_ways() {
    timeout(TEST_TIMEOUT, async {
        let server = echo_server();
        let (ch, mut rx) = client(&server).await;
        echo_round_trip(&ch, &mut rx, 1000).await;
        let s = ch.stats();
        // The prepender's 4-byte header and the body leave in one writev.
        assert!(s.writev_calls < 1000, "{s:?}");
        // Only headers and bodies under the coalesce threshold are copied.
        let small: usize = frames(1000)
            .iter()
            .map(|f| {
                4 + if f.len() < weft_transport::DEFAULT_COALESCE_THRESHOLD {
                    f.len()
                } else {
                    0
                }
            })
            .sum();
        assert!(s.copied_bytes <= small as u64, "{s:?}");
        ch.close();
        ch.closed().await;
        server.shutdown(Duration::from_secs(5)).await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn echo_over_unix_sockets() {
    timeout(TEST_TIMEOUT, async {
        let dir = tempfile::tempdir().unwrap();
        let path: PathBuf = dir.path().join("echo.sock");
        let server = ServerBuilder::new().bind_unix(&path, echo_init).unwrap();
        assert!(server.local_addr().is_none());
        let (tx, mut rx) = mpsc::unbounded_channel();
        let ch = connect_unix(&path, &ChannelConfig::default(), |p| {
            framing(p)?;
            p.handlers().add_last("collect", Collect(tx))?;
            Ok(())
        })
        .await
        .unwrap();
        echo_round_trip(&ch, &mut rx, 300).await;
        server.shutdown(Duration::from_secs(5)).await.unwrap();
        ch.closed().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn thread_per_core_server_spreads_connections_over_its_threads() {
    timeout(TEST_TIMEOUT, async {
        let server = ServerBuilder::new()
            .threads(2)
            .bind_tcp("127.0.0.1:0".parse().unwrap(), echo_init)
            .unwrap();
        let mut clients = Vec::new();
        for _ in 0..8 {
            clients.push(client(&server).await);
        }
        for (ch, rx) in &mut clients {
            echo_round_trip(ch, rx, 50).await;
        }
        assert_eq!(server.stats().accepted, 8);
        server.shutdown(Duration::from_secs(5)).await.unwrap();
        for (ch, _) in &clients {
            ch.closed().await;
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_panicking_handler_closes_only_its_connection() {
    timeout(TEST_TIMEOUT, async {
        let server = echo_server();
        let (good, mut good_rx) = client(&server).await;
        let (bad, mut bad_rx) = client(&server).await;
        let _ = bad.write_and_flush(Bytes::from_static(b"panic")).await;
        // The server closed the connection: the client sees end of stream.
        loop {
            match bad_rx.recv().await {
                Some(Event::Inactive) | None => break,
                Some(_) => {}
            }
        }
        echo_round_trip(&good, &mut good_rx, 100).await;
        let (again, mut again_rx) = client(&server).await;
        echo_round_trip(&again, &mut again_rx, 10).await;
        let s = server.stats();
        assert_eq!(s.panicked, 1, "{s:?}");
        assert_eq!(s.accepted, 3);
        server.shutdown(Duration::from_secs(5)).await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn graceful_shutdown_flushes_and_closes_every_connection() {
    timeout(TEST_TIMEOUT, async {
        let server = echo_server();
        let mut raw = tokio::net::TcpStream::connect(server.local_addr().unwrap())
            .await
            .unwrap();
        raw.write_all(b"\x00\x00\x00\x03abc").await.unwrap();
        let mut got = [0u8; 7];
        raw.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"\x00\x00\x00\x03abc");
        server.shutdown(Duration::from_secs(2)).await.unwrap();
        // The connection was closed and the listener is gone.
        assert_eq!(raw.read(&mut got).await.unwrap(), 0);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn watermark_events_reach_the_pipeline_in_order() {
    timeout(TEST_TIMEOUT, async {
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let (chan_tx, mut chans) = mpsc::unbounded_channel();
        let server = ServerBuilder::new()
            .on_channel(move |ch| {
                let _ = chan_tx.send(ch);
            })
            .bind_tcp("127.0.0.1:0".parse().unwrap(), move |p| {
                p.handlers()
                    .add_last("collect", Collect(events_tx.clone()))?;
                Ok(())
            })
            .unwrap();
        let mut raw = tokio::net::TcpStream::connect(server.local_addr().unwrap())
            .await
            .unwrap();
        let ch = chans.recv().await.unwrap();
        // 4 MiB, far more than the socket buffers hold while nobody reads.
        let (file, want) = pattern_file(11, 4 << 20);
        let region = weft_buf::FileRegion::from_file(file).unwrap();
        let done = ch.write_and_flush(region);
        assert_eq!(events.recv().await.unwrap(), Event::Writable(false));
        assert!(!ch.is_writable());
        let got = {
            let mut h = Hasher::default();
            let mut buf = vec![0u8; 1 << 16];
            while h.len < 4 << 20 {
                let n = raw.read(&mut buf).await.unwrap();
                assert!(n > 0);
                h.update(&buf[..n]);
            }
            h.finish()
        };
        assert_eq!(got, want);
        done.await.unwrap();
        assert_eq!(events.recv().await.unwrap(), Event::Writable(true));
        assert!(ch.is_writable());
        let s = ch.stats();
        assert_eq!((s.sendfile_bytes, s.copied_bytes), (4 << 20, 0));
        server.shutdown(Duration::from_secs(5)).await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn idle_timer_fires_from_the_pipeline_deadline() {
    timeout(TEST_TIMEOUT, async {
        /// Closes the channel on the first idle event.
        struct CloseOnIdle;
        impl Handler for CloseOnIdle {
            type In = Message;
            type Out = Nothing;
            fn read(&mut self, _ctx: &mut Context<'_, Nothing>, _m: Message) {}
            fn event(&mut self, ctx: &mut Context<'_, Nothing>, ev: PipelineEvent) {
                if matches!(ev, PipelineEvent::User(_)) {
                    ctx.close();
                }
            }
        }
        let server = ServerBuilder::new()
            .bind_tcp("127.0.0.1:0".parse().unwrap(), |p| {
                p.handlers().add_last(
                    "idle",
                    IdleStateHandler::new(Some(Duration::from_millis(100)), None, None),
                )?;
                p.handlers().add_last("close", CloseOnIdle)?;
                Ok(())
            })
            .unwrap();
        let mut raw = tokio::net::TcpStream::connect(server.local_addr().unwrap())
            .await
            .unwrap();
        let mut buf = [0u8; 1];
        // Nothing is sent: the server closes after the reader-idle time.
        assert_eq!(raw.read(&mut buf).await.unwrap(), 0);
        server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_write_to_a_closed_channel_fails() {
    timeout(TEST_TIMEOUT, async {
        let server = echo_server();
        let (ch, _rx) = client(&server).await;
        server.shutdown(Duration::from_secs(1)).await.unwrap();
        ch.closed().await;
        assert!(!ch.is_active());
        let err = ch
            .write_and_flush(Bytes::from_static(b"late"))
            .await
            .unwrap_err();
        assert!(!err.to_string().is_empty());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_handler_can_switch_auto_read_off_and_a_channel_back_on() {
    timeout(TEST_TIMEOUT, async {
        /// Stops reading after the first read.
        struct PauseAfterFirst(mpsc::UnboundedSender<Event>);
        impl Handler for PauseAfterFirst {
            type In = Message;
            type Out = Nothing;
            fn read(&mut self, ctx: &mut Context<'_, Nothing>, msg: Message) {
                ctx.set_auto_read(false);
                let _ = self
                    .0
                    .send(Event::Frame(msg.to_bytes().unwrap_or_default()));
            }
        }
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let (chan_tx, mut chans) = mpsc::unbounded_channel();
        let server = ServerBuilder::new()
            .on_channel(move |ch| {
                let _ = chan_tx.send(ch);
            })
            .bind_tcp("127.0.0.1:0".parse().unwrap(), move |p| {
                p.handlers()
                    .add_last("pause", PauseAfterFirst(events_tx.clone()))?;
                Ok(())
            })
            .unwrap();
        let mut raw = tokio::net::TcpStream::connect(server.local_addr().unwrap())
            .await
            .unwrap();
        let ch = chans.recv().await.unwrap();
        raw.write_all(b"first").await.unwrap();
        assert_eq!(
            events.recv().await.unwrap(),
            Event::Frame(Bytes::from_static(b"first"))
        );
        raw.write_all(b"second").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            ch.stats().bytes_read,
            5,
            "nothing is read while auto-read is off"
        );
        assert!(events.try_recv().is_err());
        ch.set_auto_read(true);
        assert_eq!(
            events.recv().await.unwrap(),
            Event::Frame(Bytes::from_static(b"second"))
        );
        assert_eq!(ch.stats().bytes_read, 11);
        server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_prepended_file_region_leaves_with_its_header_and_no_copy() {
    timeout(TEST_TIMEOUT, async {
        let (chan_tx, mut chans) = mpsc::unbounded_channel();
        let server = ServerBuilder::new()
            .on_channel(move |ch| {
                let _ = chan_tx.send(ch);
            })
            .bind_tcp("127.0.0.1:0".parse().unwrap(), framing)
            .unwrap();
        let mut raw = tokio::net::TcpStream::connect(server.local_addr().unwrap())
            .await
            .unwrap();
        let ch = chans.recv().await.unwrap();
        let (file, want) = pattern_file(12, 3000);
        ch.write_and_flush(weft_buf::FileRegion::from_file(file).unwrap())
            .await
            .unwrap();
        let mut got = vec![0u8; 3004];
        raw.read_exact(&mut got).await.unwrap();
        assert_eq!(&got[..4], &3000u32.to_be_bytes());
        assert_eq!(hash(&got[4..]), want);
        let s = ch.stats();
        assert_eq!(
            (s.sendmsg_calls, s.sendfile_bytes, s.copied_bytes),
            (1, 3000, 0),
            "{s:?}"
        );
        server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}
