//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::time::Duration;

/// Every test body runs under this bound.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// FNV-1a over 64-bit little-endian words, fed in arbitrary chunks.
#[derive(Debug, Clone)]
pub struct Hasher {
    h: u64,
    tail: [u8; 8],
    tail_len: usize,
    pub len: u64,
}

impl Default for Hasher {
    fn default() -> Self {
        Hasher {
            h: 0xcbf2_9ce4_8422_2325,
            tail: [0; 8],
            tail_len: 0,
            len: 0,
        }
    }
}

impl Hasher {
    fn word(&mut self, w: u64) {
        self.h ^= w;
        self.h = self.h.wrapping_mul(0x0100_0000_01b3);
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if self.tail_len > 0 {
            let take = (8 - self.tail_len).min(data.len());
            self.tail[self.tail_len..self.tail_len + take].copy_from_slice(&data[..take]);
            self.tail_len += take;
            data = &data[take..];
            if self.tail_len < 8 {
                return;
            }
            let w = u64::from_le_bytes(self.tail);
            self.word(w);
            self.tail_len = 0;
        }
        let mut it = data.chunks_exact(8);
        for c in &mut it {
            self.word(u64::from_le_bytes(c.try_into().unwrap()));
        }
        let rest = it.remainder();
        self.tail[..rest.len()].copy_from_slice(rest);
        self.tail_len = rest.len();
    }

    pub fn finish(&self) -> (u64, u64) {
        let mut h = self.clone();
        for i in 0..h.tail_len {
            h.h ^= u64::from(h.tail[i]);
            h.h = h.h.wrapping_mul(0x0100_0000_01b3);
        }
        (h.h, h.len)
    }
}

/// Deterministic pseudo-random bytes (xorshift), `len` of them from `seed`.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// A temporary file of `len` pattern bytes and its hash.
pub fn pattern_file(seed: u64, len: usize) -> (std::fs::File, (u64, u64)) {
    let mut f = tempfile::tempfile().unwrap();
    let mut h = Hasher::default();
    let chunk = 1 << 20;
    let mut done = 0;
    let mut s = seed;
    while done < len {
        let n = chunk.min(len - done);
        let data = pattern(s, n);
        s = s.wrapping_add(0x9e37_79b9);
        h.update(&data);
        f.write_all(&data).unwrap();
        done += n;
    }
    (f, h.finish())
}

pub fn hash(data: &[u8]) -> (u64, u64) {
    let mut h = Hasher::default();
    h.update(data);
    h.finish()
}

/// Reads `r` to its end, hashing what arrives.
pub async fn hash_to_end<R: tokio::io::AsyncRead + Unpin>(mut r: R) -> std::io::Result<(u64, u64)> {
    use tokio::io::AsyncReadExt;
    let mut h = Hasher::default();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.update(&buf[..n]);
    }
}

/// A connected TCP pair on loopback.
pub async fn tcp_pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (c, s) = tokio::join!(tokio::net::TcpStream::connect(addr), l.accept());
    let c = c.unwrap();
    c.set_nodelay(true).unwrap();
    (c, s.unwrap().0)
}
