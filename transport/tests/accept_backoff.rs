//! Running out of file descriptors pauses accepting; it does not spin or
//! stop the server. Alone in its binary: it lowers the process's
//! descriptor limit.

mod common;

use std::time::Duration;

use common::TEST_TIMEOUT;
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;
use weft_pipeline::{Context, Handler, Message};
use weft_transport::ServerBuilder;

struct Echo;

impl Handler for Echo {
    type In = Message;
    type Out = Message;

    fn read(&mut self, ctx: &mut Context<'_>, msg: Message) {
        ctx.write_and_flush(msg);
    }
}

/// Restores the descriptor limit, also when the test fails.
struct LimitGuard(u64, u64);

impl Drop for LimitGuard {
    fn drop(&mut self) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, self.0, self.1);
    }
}

async fn echo_once(s: &mut tokio::net::TcpStream, msg: &[u8]) {
    s.write_all(msg).await.unwrap();
    let mut got = vec![0u8; msg.len()];
    s.read_exact(&mut got).await.unwrap();
    assert_eq!(got, msg);
}

#[tokio::test(flavor = "current_thread")]
async fn emfile_on_accept_backs_off_and_recovers() {
    timeout(TEST_TIMEOUT, async {
        let server = ServerBuilder::new()
            .bind_tcp("127.0.0.1:0".parse().unwrap(), |p| {
                p.handlers().add_last("echo", Echo)?;
                Ok(())
            })
            .unwrap();
        let addr = server.local_addr().unwrap();
        let mut first = tokio::net::TcpStream::connect(addr).await.unwrap();
        echo_once(&mut first, b"before").await;

        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        let _guard = LimitGuard(soft, hard);
        let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
        setrlimit(Resource::RLIMIT_NOFILE, open + 8, hard).unwrap();
        let mut filler = Vec::new();
        for _ in 0..64 {
            match std::fs::File::open("/dev/null") {
                Ok(f) => filler.push(f),
                Err(_) => break,
            }
        }
        assert!(!filler.is_empty() && filler.len() < 64);
        // One descriptor for the client; none is left for the server.
        drop(filler.pop());
        let mut second = tokio::net::TcpStream::connect(addr).await.unwrap();
        for _ in 0..1000 {
            if server.stats().accept_errors > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let errors = server.stats().accept_errors;
        assert!(errors >= 1, "{:?}", server.stats());
        drop(filler);
        echo_once(&mut second, b"after").await;
        echo_once(&mut first, b"still there").await;
        let s = server.stats();
        assert_eq!(s.accepted, 2);
        // Backoff: a handful of retries, not a spin.
        assert!(s.accept_errors < 20, "{s:?}");
        drop(_guard);
        server.shutdown(Duration::from_secs(1)).await.unwrap();
    })
    .await
    .unwrap();
}
