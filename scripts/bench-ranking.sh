#!/usr/bin/env bash
# Seconds to rank every item for every user and to compute every ranking metric: ML-100K
# (943 × 1682; biased MF, NCF, MLP) and a synthetic ML-1M-shaped set (6040 × 3706).
#
#   scripts/bench-ranking.sh [REPEATS]     # default 5; medians, one compute thread
#
# ML-100K is read from $EXP_DATA_DIR/ml-100k (default ../shared/data). Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
export EXP_DATA_DIR="${EXP_DATA_DIR:-$(pwd)/../shared/data}"
cargo build --release --quiet --example bench_ranking
exec "${CARGO_TARGET_DIR:-target}/release/examples/bench_ranking" "$@"
