//! Replays the example decoders' fuzz checks (`fuzz/src/examples.rs`,
//! shared through `#[path]`) under `cargo test`: every committed seed in
//! `fuzz/corpus/{http_head,resp,log_protocol}/`, then a few thousand
//! random inputs built from protocol tokens and raw bytes (a fixed-seed
//! generator, so a failure repeats). Each input is decoded once whole and
//! once cut into reads; both must agree, and no decode step may panic or
//! stall.

#[allow(dead_code, unreachable_pub)]
#[path = "../../fuzz/src/input.rs"]
mod input;

#[allow(dead_code, unreachable_pub)]
#[path = "../../fuzz/src/examples.rs"]
mod examples;

use std::path::PathBuf;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let r = std::panic::catch_unwind(|| check(&data));
        assert!(r.is_ok(), "seed {} failed", path.display());
        n += 1;
    }
    assert!(n > 0, "no seeds in {}", dir.display());
}

/// xorshift64*: a small fixed-seed generator, so failures repeat.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random cut positions, then a soup of `tokens` and raw bytes.
fn soup(rng: &mut Rng, tokens: &[&[u8]]) -> Vec<u8> {
    let cuts = rng.below(9);
    let mut out = vec![cuts as u8];
    for _ in 0..cuts {
        out.extend_from_slice(&(rng.next() as u16).to_be_bytes());
    }
    for _ in 0..rng.below(40) {
        if rng.below(4) == 0 {
            out.push(rng.next() as u8);
        } else {
            out.extend_from_slice(tokens[rng.below(tokens.len())]);
        }
    }
    out
}

fn random(seed: u64, cases: usize, tokens: &[&[u8]], check: fn(&[u8])) {
    let mut rng = Rng(seed);
    for case in 0..cases {
        let data = soup(&mut rng, tokens);
        let r = std::panic::catch_unwind(|| check(&data));
        assert!(r.is_ok(), "case {case}: input {data:?}");
    }
}

const HTTP: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\n",
    b"HEAD /a%2e%2e/b HTTP/1.0\r\n",
    b"POST /x HTTP/1.1\r\n",
    b"Host: x\r\n",
    b"Content-Length: 3\r\n",
    b"Content-Length: 18446744073709551616\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Connection: close\r\n",
    b"Range: bytes=0-\r\n",
    b"\r\n",
    b"\r",
    b"\n",
    b"abc",
    b" ",
    b":",
];

const RESP: &[&[u8]] = &[
    b"*",
    b"$",
    b"\r\n",
    b"\n",
    b"-1",
    b"0",
    b"1",
    b"2",
    b"3",
    b"2147483648",
    b"9223372036854775808",
    b"GET",
    b"SET k v",
    b"\"",
    b"'",
    b" ",
    b"\\x41",
    b"abc",
];

const LOG: &[&[u8]] = &[
    b"\x00\x00\x00\x11\x02",
    b"\x00\x00\x00\x0e\x01\x00\x00\x00\x01\x00\x00\x00\x05",
    b"\x00\x00\x00\x05\x01",
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x00",
    b"\x00\x00\x00\x01",
    b"\x02\x00\x00\x00",
    b"\x00\x00\x00\x00\x00\x00\x00\x07",
    b"hello",
    b"\x01",
    b"\x00",
];

#[test]
fn http_head_seeds_decode_the_same_whole_and_split() {
    replay("http_head", examples::http_head);
}

#[test]
fn resp_seeds_decode_the_same_whole_and_split() {
    replay("resp", examples::resp);
}

#[test]
fn log_protocol_seeds_decode_the_same_whole_and_split() {
    replay("log_protocol", examples::log_protocol);
}

#[test]
fn random_http_heads_decode_the_same_whole_and_split() {
    random(0x5eed_0001, 1500, HTTP, examples::http_head);
}

#[test]
fn random_resp_requests_decode_the_same_whole_and_split() {
    random(0x5eed_0002, 3000, RESP, examples::resp);
}

#[test]
fn random_log_requests_decode_the_same_whole_and_split() {
    random(0x5eed_0003, 3000, LOG, examples::log_protocol);
}
