#!/usr/bin/env bash
# Seconds per training epoch and test RMSE of each seed notebook setup.
#
#   scripts/bench-epoch.sh [EXPERIMENT.toml ...]
#
# Defaults to every file in experiments/seeds/. Data sets are read from $EXP_DATA_DIR
# (default ../shared/data). Prints a Markdown table: median/min/max seconds per epoch over
# the training batches (evaluation excluded), ratings per second and test RMSE.
set -euo pipefail
cd "$(dirname "$0")/.."
export EXP_DATA_DIR="${EXP_DATA_DIR:-$(pwd)/../shared/data}"
cargo build --release --quiet --example bench_models
if [ "$#" -eq 0 ]; then set -- experiments/seeds/*.toml; fi
exec "${CARGO_TARGET_DIR:-target}/release/examples/bench_models" "$@"
