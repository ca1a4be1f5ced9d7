#!/usr/bin/env bash
# Seconds per training epoch of each model (batch 64, 50 factors, 90/10 holdout, seed 42).
#
#   scripts/bench-epoch.sh [DATASET] [EPOCHS]
#
# DATASET defaults to ml-100k, read from $EXP_DATA_DIR/ml-100k (default ../shared/data).
# Prints a Markdown table of median/min/max seconds per epoch over EPOCHS epochs (default 7).
set -euo pipefail
cd "$(dirname "$0")/.."
export EXP_DATA_DIR="${EXP_DATA_DIR:-$(pwd)/../shared/data}"
cargo build --release --quiet --example bench_epoch
exec target/release/examples/bench_epoch "${1:-ml-100k}" "${2:-7}"
