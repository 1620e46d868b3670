#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each (default 20), one after
# another, and prints each target's final libFuzzer stats line.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). Works on a stable
# toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z sanitizer flags.
# Set WEFT_FUZZ_SANITIZER=none for a faster, uninstrumented-memory build.
# The committed seeds in fuzz/corpus/<target>/ are read, never written:
# new inputs go to fuzz/target/corpus/<target>/ (git-ignored). A crash is
# saved under fuzz/artifacts/<target>/ and makes the script exit non-zero.
set -euo pipefail
secs=${1:-20}
shift || true
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$here/target"
san=${WEFT_FUZZ_SANITIZER:-address}
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
cargo fuzz build -O --sanitizer "$san"
status=0
for t in "${targets[@]}"; do
    mkdir -p "target/corpus/$t" "artifacts/$t" "corpus/$t"
    log="target/fuzz-$t.log"
    echo "== $t: ${secs}s"
    if cargo fuzz run -O --sanitizer "$san" "$t" "target/corpus/$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=1024 -max_len=4096 -print_final_stats=1 \
        >"$log" 2>&1; then
        grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)' "$log" | tr '\n' ' '
        echo
        grep -E '#[0-9]+.*DONE' "$log" | tail -1 || true
    else
        status=1
        echo "!! $t FAILED; see fuzz/$log and fuzz/artifacts/$t/"
        grep -E 'panicked|ERROR|SUMMARY' "$log" | head -5 || true
    fi
done
exit "$status"
