#!/usr/bin/env bash
# exp against its peers on the same ratings: cornac MF, LIBMF (1 and 2 threads) and
# Surprise SVD beside exp's funk-svd (ML-100K, k 100, 20 epochs, per-rating SGD), and
# Surprise SVDpp beside exp's svdpp (k 20, 20 epochs). Both sides train on the rows
# `exp data split` writes; each repeat runs exp and then each peer (interleaved); the
# tables report medians. What each side's timer covers: see scripts/bench_peers.py.
#
#   scripts/bench-peers.sh [--repeats N] [--only NAME[,NAME]] [--out results/bench]
#
# NAME is a case (svd-k100, svdpp-k20) or a peer (cornac-mf, libmf-1t, libmf-2t,
# surprise-svd, surprise-svdpp). The first run creates results/peers-venv and installs
# numpy, scikit-surprise, cornac and libmf into it from the Python package registry
# ($PEERS_PIP_ARGS is passed to pip, e.g. an index URL). Writes peers.md and peers.json to
# the output folder (default results/bench/). ML-100K is read from $EXP_DATA_DIR/ml-100k
# (default ../shared/data). About 5-10 minutes with the default 5 repeats on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export EXP_DATA_DIR="${EXP_DATA_DIR:-$(pwd)/../shared/data}"
if [ ! -d "$EXP_DATA_DIR/ml-100k" ]; then
    echo "bench-peers: no ml-100k folder in \$EXP_DATA_DIR ($EXP_DATA_DIR); run \`exp data download ml-100k\`" >&2
    exit 1
fi
venv=results/peers-venv
packages=(numpy scikit-surprise cornac libmf)
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null; then
    echo "bench-peers: $python not found; set PYTHON to a Python 3 interpreter" >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" || {
        echo "bench-peers: could not create the virtual environment $venv (is the venv module installed?)" >&2
        exit 1
    }
fi
missing=()
for package in "${packages[@]}"; do
    "$venv/bin/python" -m pip show --quiet "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench-peers: installing ${missing[*]} into $venv" >&2
    # shellcheck disable=SC2086
    if ! "$venv/bin/python" -m pip install --quiet ${PEERS_PIP_ARGS:-} "${missing[@]}" >"$venv/pip.log" 2>&1; then
        tail -n 20 "$venv/pip.log" >&2
        echo "bench-peers: pip could not install ${missing[*]} (registry unreachable or a build failed; full log in $venv/pip.log)" >&2
        exit 1
    fi
fi
for module in numpy surprise cornac libmf; do
    "$venv/bin/python" -c "import $module" 2>"$venv/import.log" || {
        cat "$venv/import.log" >&2
        echo "bench-peers: the Python module $module does not import in $venv (delete $venv to reinstall)" >&2
        exit 1
    }
done
cargo build --release --quiet --bin exp
exec "$venv/bin/python" scripts/bench_peers.py --exp "${CARGO_TARGET_DIR:-target}/release/exp" "$@"
