#!/usr/bin/env bash
# Runs the bad-input corpus (tests/bad_inputs/): experiment files, data files, databases,
# checkpoints, output folders, downloads from a misbehaving local server and command
# lines, each against the real exp binary. Prints one line per case,
#   case <group>/<name>: clean|UNCLEAR (why)|PANIC|HANG: <first line exp printed>
# and a final `cases=N clean=N panics=N hangs=N`. Exits non-zero unless every case is clean.
#
#   scripts/bad-inputs.sh [SUBSTRING]     # only the cases whose name contains SUBSTRING
#
# The same cases run in `cargo test` (the `bad_inputs` test).
set -euo pipefail
cd "$(dirname "$0")/.."
EXP_BAD_INPUTS="${1:-}" exec cargo test --release --quiet --test bad_inputs -- --nocapture --test-threads 1
