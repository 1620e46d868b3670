//! Fuzzes `CompositeBuf` with operation sequences checked against a
//! `Vec<u8>` model (see `weft_fuzz::composite`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| weft_fuzz::composite::ops(data));
