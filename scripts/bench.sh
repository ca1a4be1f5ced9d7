#!/usr/bin/env bash
# The benchmark suite: seconds per epoch, ratings per second, peak memory and test RMSE of
# every seed setup × batch size {64, 256, 1024} on ml-latest-small, MovieLens 100K, a
# synthetic ML-1M-shaped set and a synthetic 1M-user × 200K-item × 10M-rating set, each
# case in its own process, one at a time; plus dense-update references on ML-100K and the
# per-rating SGD cases (funk-svd-per-rating on ML-100K and the 1M set, funk-svd- and
# biased-mf-per-rating on the 10M set with one and two threads: `...:1:3:threads2`).
#
#   scripts/bench.sh [--data ml-100k,synthetic-1m] [--setups dot-mf,ncf] [--batches 64]
#                    [--epochs N] [--out results/bench]
#
# Writes bench.md (tables and targets), bench.json and throughput.png to the output folder
# (default results/bench/). MovieLens 100K is read from $EXP_DATA_DIR/ml-100k (default
# ../shared/data). The whole suite takes 10–15 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export EXP_DATA_DIR="${EXP_DATA_DIR:-$(pwd)/../shared/data}"
cargo build --release --quiet --example bench_suite
exec "${CARGO_TARGET_DIR:-target}/release/examples/bench_suite" "$@"
