#!/usr/bin/env bash
# Wall time of an experiment trained by one `exp worker` vs two sharing one PostgreSQL
# store, on this machine, side by side: each repeat runs both (and `exp run` on an SQLite
# file with as many parallel runs as the two workers together, the one-process baseline),
# each on a fresh database. Prints every time, then medians and ratios.
#
#   scripts/bench-workers.sh [REPEATS] [EXPERIMENT.toml ...]
#   (defaults: 3 repeats; experiments/sweep.toml and experiments/report-demo.toml)
#
# Starts its own throw-away PostgreSQL server (scripts/pg-server.sh) and stops it on
# exit. Every worker trains one run at a time (--jobs 1), so two workers use two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
shift || true
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(experiments/sweep.toml experiments/report-demo.toml)
exp=target/release/exp
[ -x "$exp" ] || cargo build --release
work=$(mktemp -d)
trap 'scripts/pg-server.sh stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
server=$(scripts/pg-server.sh start "$work/pg" "${BENCH_PG_PORT:-55450}")
base=${server%/*}

# fresh_db: a new, empty database on the server; prints its URL.
fresh_db() {
  local name="bench_$(date +%s%N)"
  psql -q "$server" -c "CREATE DATABASE $name" >&2 || exit 1
  echo "$base/$name"
}

# seconds COMMAND...: runs it (output to the log), prints its wall time in seconds.
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" >>"$work/log" 2>&1
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f\n", b - a}'
}

one_worker() { "$exp" worker --db "$1" --experiment "$2" --jobs 1; }
two_workers() {
  "$exp" worker --db "$1" --experiment "$2" --jobs 1 &
  local first=$!
  "$exp" worker --db "$1" --experiment "$2" --jobs 1
  wait "$first"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

for file in "${files[@]}"; do
  name=$(awk -F'"' '/^name *=/ {print $2; exit}' "$file")
  : >"$work/one" && : >"$work/two" && : >"$work/run"
  for r in $(seq "$repeats"); do
    db=$(fresh_db); "$exp" submit "$file" --db "$db" 2>>"$work/log"
    t1=$(seconds one_worker "$db" "$name")
    db=$(fresh_db); "$exp" submit "$file" --db "$db" 2>>"$work/log"
    t2=$(seconds two_workers "$db" "$name")
    t0=$(seconds "$exp" run "$file" --db "$work/run-$r-$name.sqlite" --jobs 2)
    echo "$file repeat $r: 1 worker ${t1} s, 2 workers ${t2} s, exp run --jobs 2 (SQLite) ${t0} s"
    echo "$t1" >>"$work/one"; echo "$t2" >>"$work/two"; echo "$t0" >>"$work/run"
  done
  m1=$(median <"$work/one"); m2=$(median <"$work/two"); m0=$(median <"$work/run")
  printf '%s: medians of %d: 1 worker %.2f s, 2 workers %.2f s (1 worker / 2 workers = %.2fx), exp run --jobs 2 on SQLite %.2f s (2 workers / exp run = %.2fx)\n' \
    "$file" "$repeats" "$m1" "$m2" "$(awk -v a="$m1" -v b="$m2" 'BEGIN {print a / b}')" "$m0" "$(awk -v a="$m2" -v b="$m0" 'BEGIN {print a / b}')"
done
