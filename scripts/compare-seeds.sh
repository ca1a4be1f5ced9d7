#!/usr/bin/env bash
# Test RMSE of every seed experiment from two exp binaries side by side, each run on the
# fused engine and on the graph engine (candle's device-agnostic path), with the digits
# SQLite stores. Used to show that a refactor of the engine changed no result.
#
# Usage: scripts/compare-seeds.sh OLD_EXP NEW_EXP [SEED_FILE...]
#   OLD_EXP, NEW_EXP  two exp binaries (e.g. one built from an earlier commit)
#   SEED_FILE         experiment files (default: experiments/seeds/*.toml)
# The seed files read EXP_DATA_DIR (default ../shared/data). Needs sqlite3.
# An old binary that does not know `training.engine` gets "-" in the graph column.
set -euo pipefail
old=$1 new=$2
shift 2
if [ $# -eq 0 ]; then set -- experiments/seeds/*.toml; fi
export EXP_DATA_DIR=${EXP_DATA_DIR:-../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Writes the file with `engine = "graph"` set in its [training] table (added when the
# file has none).
with_engine() {
    if grep -q '^\[training\]' "$1"; then
        sed 's/^\[training\]$/[training]\nengine = "graph"/' "$1"
    else
        cat "$1"
        printf '\n[training]\nengine = "graph"\n'
    fi
}

# Prints "label=rmse" for each finished run of the database, in run order.
rmses() {
    sqlite3 "$1" "SELECT params_json || ' ' || printf('%.17g', rmse) FROM runs
                  WHERE status = 'finished' ORDER BY id" 2>/dev/null | tr '\n' ';'
}

# run BIN FILE DB: trains FILE with BIN into DB, quietly; prints the RMSEs or "-".
run() {
    if "$1" run "$2" --db "$3" >"$3.log" 2>&1; then rmses "$3"; else echo "-"; fi
}

printf '%-26s %-12s %s\n' seed engine "test RMSE: old | new"
for file in "$@"; do
    name=$(basename "$file" .toml)
    graph="$work/$name.graph.toml"
    with_engine "$file" >"$graph"
    fused_old=$(run "$old" "$file" "$work/$name-fused-old.sqlite")
    fused_new=$(run "$new" "$file" "$work/$name-fused-new.sqlite")
    graph_old=$(run "$old" "$graph" "$work/$name-graph-old.sqlite")
    graph_new=$(run "$new" "$graph" "$work/$name-graph-new.sqlite")
    same=$([ "$fused_old" = "$fused_new" ] && echo identical || echo DIFFERENT)
    printf '%-26s %-12s %s | %s  (%s)\n' "$name" fused "$fused_old" "$fused_new" "$same"
    printf '%-26s %-12s %s | %s\n' "$name" graph "$graph_old" "$graph_new"
done
