//! The splice relay between two loopback connections.

mod common;

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;
use weft_transport::{relay, AsyncSink, RelayMode};

/// Writes `mib` MiB of pattern to `w`, then shuts its write half; returns
/// the hash of what was written.
async fn send_pattern<W: AsyncWrite + Unpin>(mut w: W, seed: u64, mib: usize) -> (u64, u64) {
    let mut h = Hasher::default();
    for i in 0..mib {
        let chunk = pattern(seed + i as u64, 1 << 20);
        h.update(&chunk);
        w.write_all(&chunk).await.unwrap();
    }
    w.shutdown().await.unwrap();
    h.finish()
}

async fn both_ways<C, S>(client: C, server: S, mib: usize) -> ((u64, u64), (u64, u64))
where
    C: AsyncRead + AsyncWrite + Send + 'static,
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (cr, cw) = tokio::io::split(client);
    let (sr, sw) = tokio::io::split(server);
    let up = tokio::spawn(send_pattern(cw, 100, mib));
    let down = tokio::spawn(send_pattern(sw, 200, mib));
    let at_server = tokio::spawn(hash_to_end(sr));
    let at_client = tokio::spawn(hash_to_end(cr));
    let sent_up = up.await.unwrap();
    let sent_down = down.await.unwrap();
    assert_eq!(at_server.await.unwrap().unwrap(), sent_up);
    assert_eq!(at_client.await.unwrap().unwrap(), sent_down);
    (sent_up, sent_down)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splice_relay_carries_64_mib_each_way_without_a_copy() {
    timeout(TEST_TIMEOUT, async {
        let (client, a) = tcp_pair().await;
        let (b, server) = tcp_pair().await;
        let relayed = tokio::spawn(async move { relay(&a, &b, RelayMode::Splice).await });
        let (up, down) = both_ways(client, server, 64).await;
        let s = relayed.await.unwrap().unwrap();
        println!("splice relay: {s:?}");
        assert_eq!((s.a_to_b, s.b_to_a), (up.1, down.1));
        assert_eq!(s.stats.splice_bytes, 128 << 20);
        assert_eq!(s.stats.copied_bytes, 0);
        assert_eq!(s.fallbacks, 0);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_relay_counts_every_byte_it_copies() {
    timeout(TEST_TIMEOUT, async {
        let (client, a) = tcp_pair().await;
        let (b, server) = tcp_pair().await;
        let relayed = tokio::spawn(async move { relay(&a, &b, RelayMode::Copy).await });
        both_ways(client, server, 4).await;
        let s = relayed.await.unwrap().unwrap();
        assert_eq!((s.a_to_b, s.b_to_a), (4 << 20, 4 << 20));
        assert_eq!(s.stats.copied_bytes, 8 << 20);
        assert_eq!(s.stats.copy_bytes, 8 << 20);
        assert_eq!(s.stats.splice_calls, 0);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn splice_relay_between_unix_sockets() {
    timeout(TEST_TIMEOUT, async {
        let (client, a) = tokio::net::UnixStream::pair().unwrap();
        let (b, server) = tokio::net::UnixStream::pair().unwrap();
        let relayed = tokio::spawn(async move { relay(&a, &b, RelayMode::Splice).await });
        both_ways(client, server, 4).await;
        let s = relayed.await.unwrap().unwrap();
        assert_eq!((s.a_to_b, s.b_to_a), (4 << 20, 4 << 20));
        assert_eq!(s.stats.copied_bytes, 0);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn half_close_lets_the_other_direction_finish() {
    timeout(TEST_TIMEOUT, async {
        use tokio::io::AsyncReadExt;
        let (mut client, a) = tcp_pair().await;
        let (b, mut server) = tcp_pair().await;
        let relayed = tokio::spawn(async move { relay(&a, &b, RelayMode::Splice).await });
        client.write_all(b"request").await.unwrap();
        client.shutdown().await.unwrap();
        let mut req = Vec::new();
        server.read_to_end(&mut req).await.unwrap();
        assert_eq!(req, b"request");
        // The client's half-close reached the server; the reply still flows.
        server
            .write_all(b"response after half-close")
            .await
            .unwrap();
        drop(server);
        let mut resp = Vec::new();
        client.read_to_end(&mut resp).await.unwrap();
        assert_eq!(resp, b"response after half-close");
        let s = relayed.await.unwrap().unwrap();
        assert_eq!((s.a_to_b, s.b_to_a), (7, 25));
    })
    .await
    .unwrap();
}

/// A socket whose first read-side (or write-side) I/O is refused with
/// `EINVAL`, as the kernel refuses `splice` for a descriptor without splice
/// support. Only the first call is refused, and the relay's first call on
/// each side is a splice, so this forces the splice-refused fallback.
struct RefusesFirstSplice<S> {
    inner: S,
    refuse_read: AtomicBool,
    refuse_write: AtomicBool,
}

impl<S> RefusesFirstSplice<S> {
    fn reading(inner: S) -> Self {
        RefusesFirstSplice {
            inner,
            refuse_read: AtomicBool::new(true),
            refuse_write: AtomicBool::new(false),
        }
    }

    fn writing(inner: S) -> Self {
        RefusesFirstSplice {
            inner,
            refuse_read: AtomicBool::new(false),
            refuse_write: AtomicBool::new(true),
        }
    }
}

impl<S: AsFd> AsFd for RefusesFirstSplice<S> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl<S: AsyncSink> AsyncSink for RefusesFirstSplice<S> {
    fn write_io<R>(&self, f: impl FnMut() -> io::Result<R>) -> impl Future<Output = io::Result<R>> {
        let refuse = self.refuse_write.swap(false, Ordering::Relaxed);
        async move {
            if refuse {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            self.inner.write_io(f).await
        }
    }

    fn read_io<R>(&self, f: impl FnMut() -> io::Result<R>) -> impl Future<Output = io::Result<R>> {
        let refuse = self.refuse_read.swap(false, Ordering::Relaxed);
        async move {
            if refuse {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            self.inner.read_io(f).await
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_refuses_splice_falls_back_to_a_counted_copy_for_its_direction_only() {
    timeout(TEST_TIMEOUT, async {
        let (client, a) = tcp_pair().await;
        let (b, server) = tcp_pair().await;
        let a = RefusesFirstSplice::reading(a);
        let relayed = tokio::spawn(async move { relay(&a, &b, RelayMode::Splice).await });
        let (up, down) = both_ways(client, server, 4).await;
        let s = relayed.await.unwrap().unwrap();
        assert_eq!((s.a_to_b, s.b_to_a), (up.1, down.1));
        assert_eq!(s.fallbacks, 1);
        // a -> b was copied, every byte counted; b -> a still spliced.
        assert_eq!(s.stats.copied_bytes, up.1);
        assert_eq!(s.stats.copy_bytes, up.1);
        assert_eq!(s.stats.splice_bytes, down.1);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_that_refuses_splice_gets_the_piped_bytes_and_the_rest_by_copy() {
    timeout(TEST_TIMEOUT, async {
        let (client, a) = tcp_pair().await;
        let (b, server) = tcp_pair().await;
        // b refuses the first splice into it: the a -> b direction has
        // bytes in its pipe already when it falls back.
        let b = RefusesFirstSplice::writing(b);
        let relayed = tokio::spawn(async move { relay(&a, &b, RelayMode::Splice).await });
        let (up, down) = both_ways(client, server, 4).await;
        let s = relayed.await.unwrap().unwrap();
        assert_eq!((s.a_to_b, s.b_to_a), (up.1, down.1));
        assert_eq!(s.fallbacks, 1);
        assert_eq!(s.stats.copied_bytes, up.1);
        assert_eq!(s.stats.copy_bytes, up.1);
        assert_eq!(s.stats.splice_bytes, down.1);
    })
    .await
    .unwrap();
}
