#!/usr/bin/env bash
# Regenerates every number README.md quotes from an experiment: builds exp, trains each
# experiment the README cites into scratch databases, and rewrites the text between the
# README's `<!-- numbers:NAME -->` markers (see scripts/readme_numbers.py for the blocks).
#
#   scripts/readme-numbers.sh [--only NAME]... [--check] [--list]
#
# All blocks take about 15 minutes on 2 cores (the tuned ML-100K sweeps and the seeds on
# the graph engine are most of it). Needs python3 and ML-100K in $EXP_DATA_DIR (default
# ../shared/data). Review the result with `git diff README.md`.
set -euo pipefail
cd "$(dirname "$0")/.."
export EXP_DATA_DIR="${EXP_DATA_DIR:-$(pwd)/../shared/data}"
cargo build --release --quiet
exec python3 scripts/readme_numbers.py --exp "${CARGO_TARGET_DIR:-target}/release/exp" "$@"
