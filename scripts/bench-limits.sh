#!/usr/bin/env bash
# Bare loops beside the benchmark suite: biased MF (k = 50, exp's row layout) trained one
# rating at a time with SGD and with lazy Adam by a loop with no framework, on the
# synthetic ML-1M-shaped set and the 1M-user × 200K-item set. Their seconds per million
# ratings, large set against small, show what the memory system alone costs once the
# tables outgrow the CPU caches: the yardstick for the suite's large-catalogue target.
#
#   scripts/bench-limits.sh [EPOCHS]      (default 3; about 2 minutes on 2 cores)
#
# Writes results/bench/limits.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example bench_limits
mkdir -p results/bench
RAYON_NUM_THREADS=1 "${CARGO_TARGET_DIR:-target}/release/examples/bench_limits" "$@" |
    tee results/bench/limits.md
