//! Checks shared by Weft's fuzz targets and the proptest harnesses that
//! replay their corpora under `cargo test`.

pub mod composite;
pub mod examples;
pub mod framing;
pub mod input;
