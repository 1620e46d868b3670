//! Fuzzes the `length_field` framing decoder: one-shot vs split delivery (see
//! `weft_fuzz::framing`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| weft_fuzz::framing::length_field(data));
