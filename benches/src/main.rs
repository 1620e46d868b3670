//! weft-bench
fn main() {}
