//! Fuzzes the example servers' `log_protocol` decoder: one-shot vs split delivery
//! (see `weft_fuzz::examples`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| weft_fuzz::examples::log_protocol(data));
