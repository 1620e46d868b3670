//! A task writing through a `Channel` handle to a peer that never reads:
//! the watermarks bound the process's memory. In a file of its own, so
//! no other test's allocations move the resident set it measures.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::{sleep, timeout};
use weft_pipeline::{Context, Event, Handler, Message, Nothing};
use weft_transport::{Channel, ServerBuilder};

/// Resident set of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

const CHUNK: usize = 1 << 20;
const CHUNKS: u64 = 1024; // 1 GiB in all

/// When the channel becomes active, starts a task that writes 1 GiB of
/// fresh 1 MiB buffers through the channel's handle, waiting for the
/// channel to be writable before each.
struct Firehose(Arc<AtomicU64>);

impl Handler for Firehose {
    type In = Message;
    type Out = Nothing;

    fn read(&mut self, _ctx: &mut Context<'_, Nothing>, _m: Message) {}

    fn event(&mut self, ctx: &mut Context<'_, Nothing>, event: Event) {
        if matches!(event, Event::Active) {
            let ch = Channel::from_context(ctx).expect("a transport connection has a channel");
            let written = self.0.clone();
            tokio::spawn(async move {
                for i in 0..CHUNKS {
                    ch.writable().await;
                    if !ch.is_active() {
                        return;
                    }
                    drop(ch.write_and_flush(Bytes::from(vec![i as u8; CHUNK])));
                    written.store(i + 1, Ordering::Relaxed);
                }
            });
        }
    }
}

#[tokio::test]
async fn a_task_writing_a_gib_to_a_peer_that_never_reads_keeps_memory_bounded() {
    timeout(Duration::from_secs(30), async {
        let written = Arc::new(AtomicU64::new(0));
        let w = written.clone();
        let server = ServerBuilder::new()
            .bind_tcp("127.0.0.1:0".parse().unwrap(), move |p| {
                p.handlers().add_last("firehose", Firehose(w.clone()))?;
                Ok(())
            })
            .unwrap();
        let before = rss();
        // Connects and never reads.
        let peer = tokio::net::TcpStream::connect(server.local_addr().unwrap())
            .await
            .unwrap();
        // Wait until the writer stalls: no progress for 500 ms (at most 20 s).
        let mut last = u64::MAX;
        for _ in 0..40 {
            sleep(Duration::from_millis(500)).await;
            let now = written.load(Ordering::Relaxed);
            if now == last {
                break;
            }
            last = now;
        }
        let grown = rss().saturating_sub(before);
        let chunks = written.load(Ordering::Relaxed);
        assert!(
            chunks < CHUNKS,
            "the writer finished although the peer never read"
        );
        assert!(chunks >= 1, "the writer never started");
        assert!(
            grown < 16 << 20,
            "RSS grew by {grown} bytes with {chunks} MiB written through the handle"
        );
        drop(peer);
        server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}
