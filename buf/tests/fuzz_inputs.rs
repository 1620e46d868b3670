//! Replays the `composite_ops` fuzz target's check (`fuzz/src/composite.rs`,
//! shared through `#[path]`) under `cargo test`: every committed seed in
//! `fuzz/corpus/composite_ops/`, then random operation sequences from
//! proptest, each checked step by step against a `Vec<u8>` model.

#[allow(dead_code, unreachable_pub)]
#[path = "../../fuzz/src/input.rs"]
mod input;

#[allow(dead_code, unreachable_pub)]
#[path = "../../fuzz/src/composite.rs"]
mod composite;

use std::path::PathBuf;

use proptest::prelude::*;

#[test]
fn composite_seed_sequences_match_the_vec_model() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/composite_ops");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let r = std::panic::catch_unwind(|| composite::ops(&data));
        assert!(r.is_ok(), "seed {} failed", path.display());
        n += 1;
    }
    assert!(n > 0, "no seeds in {}", dir.display());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_composite_sequences_match_the_vec_model(
        shared in prop::collection::vec(any::<u8>(), 64),
        ops in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut data = shared;
        data.extend(ops);
        composite::ops(&data);
    }
}
