//! Whole protocol servers built only on Weft's public API, and the `weft`
//! command that runs them.
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

pub mod common;
pub mod echo;
pub mod http;
pub mod log;
pub mod proxy;
pub mod resp;
pub mod tls;

/// The root README's Rust snippets, run as doctests so the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
