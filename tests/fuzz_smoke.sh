#!/usr/bin/env bash
# Short fuzzing pass for CI: every fuzz target for SECONDS each (default 20)
# under libFuzzer when cargo-fuzz is installed; otherwise the proptest
# replays of the same checks over the committed corpora and random inputs.
#
#   tests/fuzz_smoke.sh [SECONDS]
#
# The long run the issue asks for (10 minutes per target) is
# `fuzz/run.sh 600`; it is not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
if command -v cargo-fuzz >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/cargo-fuzz" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
    exec fuzz/run.sh "$secs"
fi
echo "cargo-fuzz is not installed: replaying the corpora through proptest"
cargo test -p weft-buf --test fuzz_inputs
cargo test -p weft-pipeline --test fuzz_inputs
cargo test -p weft-examples --test hardening_decoders
