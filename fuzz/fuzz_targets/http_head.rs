//! Fuzzes the example servers' `http_head` decoder: one-shot vs split delivery
//! (see `weft_fuzz::examples`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| weft_fuzz::examples::http_head(data));
