//! Fuzzes the server side of Weft's TLS: arbitrary bytes, then end of
//! stream, on a connection to a TLS echo server; the server must close
//! promptly with whole TLS records, panic nowhere, and keep serving a good
//! client (see `fuzz/src/tls_server.rs`).
#![no_main]

#[allow(dead_code)]
#[path = "../src/tls_server.rs"]
mod tls_server;

libfuzzer_sys::fuzz_target!(|data: &[u8]| tls_server::harness().feed(data));
