#!/usr/bin/env bash
# Regenerates the copy of MovieLens ml-latest-small (2018) that is embedded in the exp
# binary (src/data/embedded.rs):
#
#   src/data/ml-latest-small/ratings.csv.gz   gzip -9n of ratings.csv (CRLF kept)
#   src/data/ml-latest-small/movies.csv.gz    gzip -9n of movies.csv  (CRLF kept)
#   src/data/ml-latest-small/README.txt       verbatim (the licence: redistribution
#                                             is allowed together with this README)
#
# Usage: scripts/embed-ml-latest-small.sh [SOURCE_DIR]
#   SOURCE_DIR holds the pristine files of ml-latest-small.zip (2018-09-26 version);
#   default: ../shared/data/ml-latest-small, relative to the repository root.
#
# The SHA-256s below are those of /work/shared/data/SOURCES.md; a copy whose bytes differ
# (e.g. line ends converted to LF by git) is refused. `gzip -n` leaves out the name and
# time stamp, so the output depends only on the input bytes (and the gzip version).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=${1:-"$repo_root/../shared/data/ml-latest-small"}
dest="$repo_root/src/data/ml-latest-small"

if [[ ! -d "$src" ]]; then
    echo "error: source folder '$src' not found (pass the folder holding ratings.csv, movies.csv and README.txt)" >&2
    exit 1
fi

check() {
    local file=$1 expected=$2 actual
    if [[ ! -f "$src/$file" ]]; then
        echo "error: '$src/$file' not found" >&2
        exit 1
    fi
    actual=$(sha256sum "$src/$file" | cut -d' ' -f1)
    if [[ "$actual" != "$expected" ]]; then
        echo "error: '$src/$file' has SHA-256 $actual, expected $expected (not the pristine 2018 file)" >&2
        exit 1
    fi
}

check ratings.csv aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646
check movies.csv 5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07
check README.txt 63d22ac138e80fae37021797ed8e1b9424b5239dc576a137422adf783ae3f404

mkdir -p "$dest"
gzip -9n < "$src/ratings.csv" > "$dest/ratings.csv.gz"
gzip -9n < "$src/movies.csv" > "$dest/movies.csv.gz"
cp "$src/README.txt" "$dest/README.txt"
chmod 644 "$dest/ratings.csv.gz" "$dest/movies.csv.gz" "$dest/README.txt"

echo "wrote:"
ls -l "$dest"
