#!/usr/bin/env bash
# Seconds per epoch of every seed setup on MovieLens 100K: an earlier build's fused
# engine, this build's fused engine and this build's graph engine, case by case back to
# back (old, new, graph; repeated), so a refactor's cost shows beside the same noise.
#
#   scripts/bench-engines.sh OLD_BENCH_SUITE [REPEATS] [BATCH] [EPOCHS] [SETUP,...]
#
# OLD_BENCH_SUITE is the bench_suite example of the earlier build (e.g. built in a git
# worktree of an older commit: target/release/examples/bench_suite). Prints one Markdown
# row per setup: medians over REPEATS (default 5) of each case's median s/epoch, and the
# new/old ratio. MovieLens 100K is read from $EXP_DATA_DIR/ml-100k (default ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1
repeats=${2:-5}
batch=${3:-64}
epochs=${4:-5}
setups=${5:-dot-mf,biased-mf,funk-svd,svdpp,ncf,ncf-two-layer,mlp,two-tower}
export EXP_DATA_DIR="${EXP_DATA_DIR:-$(pwd)/../shared/data}"
cargo build --release --quiet --example bench_suite
new="${CARGO_TARGET_DIR:-target}/release/examples/bench_suite"
export RAYON_NUM_THREADS=1

# s/epoch of one case, from the JSON line the suite prints.
seconds() {
    "$1" --case "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds_per_epoch"])'
}
median() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

echo "| setup | old fused s/epoch | new fused s/epoch | new/old | graph s/epoch | graph/fused |"
echo "|---|---|---|---|---|---|"
for setup in ${setups//,/ }; do
    case=ml-100k:$setup:$batch:$epochs
    o=() n=() g=()
    for _ in $(seq "$repeats"); do
        o+=("$(seconds "$old" "$case")")
        n+=("$(seconds "$new" "$case")")
        g+=("$(seconds "$new" "$case:graph")")
    done
    mo=$(median "${o[@]}") mn=$(median "${n[@]}") mg=$(median "${g[@]}")
    python3 -c "import sys; o,n,g=map(float,sys.argv[2:]); print(f'| {sys.argv[1]} | {o:.4f} | {n:.4f} | {n/o:.3f} | {g:.4f} | {g/n:.1f}× |')" "$setup" "$mo" "$mn" "$mg"
done
