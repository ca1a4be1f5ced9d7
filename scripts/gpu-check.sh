#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU and an exp built with `--features cuda`,
# trains every seed experiment on cuda:0 and on the CPU, prints test RMSE and seconds per
# epoch side by side (the RMSEs must agree within 0.01), then runs the default sweep on
# both devices at once (`--devices cpu:1,cuda:0`) and checks that every run finished and
# that both devices trained some.
#
#   scripts/gpu-check.sh [EXP_BINARY] [SEED_FILE...]
#
# EXP_BINARY defaults to target/release/exp. Seed files default to experiments/seeds/*.toml;
# they read their data from $EXP_DATA_DIR (default ../shared/data); a seed whose data is
# missing is reported and skipped. Needs sqlite3. Exits 1 if any check fails.
set -uo pipefail
cd "$(dirname "$0")/.."
exp=${1:-target/release/exp}
shift || true
if [ $# -eq 0 ]; then set -- experiments/seeds/*.toml; fi
export EXP_DATA_DIR="${EXP_DATA_DIR:-$(pwd)/../shared/data}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
"$exp" --version

# run FILE DEVICES DB: trains FILE on DEVICES into DB; prints "rmse s/epoch" of its
# finished runs (mean RMSE, median epoch seconds), or "- -" when it failed.
run() {
    if ! "$exp" run "$1" --devices "$2" --db "$3" >"$3.log" 2>&1; then
        echo "- -"
        return
    fi
    sqlite3 "$3" "SELECT printf('%.6f', avg(rmse)) FROM runs WHERE status = 'finished'" | tr '\n' ' '
    sqlite3 "$3" "SELECT seconds FROM epochs ORDER BY seconds" |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else printf "%.4f\n", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

printf '%-22s %12s %12s %10s %12s %12s %8s\n' seed "cpu RMSE" "cuda RMSE" "|diff|" "cpu s/ep" "cuda s/ep" check
for file in "$@"; do
    name=$(basename "$file" .toml)
    read -r cpu_rmse cpu_s <<<"$(run "$file" cpu:1 "$work/$name-cpu.sqlite")"
    read -r gpu_rmse gpu_s <<<"$(run "$file" cuda:0 "$work/$name-cuda.sqlite")"
    if [ "$cpu_rmse" = "-" ] && grep -q "not found\|missing\|not embedded" "$work/$name-cpu.sqlite.log"; then
        printf '%-22s skipped: %s\n' "$name" "$(grep -m1 -o 'error: .*' "$work/$name-cpu.sqlite.log" | cut -c1-90)"
        continue
    fi
    verdict=$(python3 -c "import sys
c, g = sys.argv[1:3]
if '-' in (c, g): print('- FAIL')
else:
    d = abs(float(c) - float(g)); print(f'{d:.6f}', 'ok' if d <= 0.01 else 'FAIL')" "$cpu_rmse" "$gpu_rmse")
    diff=${verdict% *} check=${verdict#* }
    [ "$check" = ok ] || failed=1
    printf '%-22s %12s %12s %10s %12s %12s %8s\n' "$name" "$cpu_rmse" "$gpu_rmse" "$diff" "$cpu_s" "$gpu_s" "$check"
    if [ "$check" != ok ]; then
        tail -n 3 "$work/$name-cpu.sqlite.log" "$work/$name-cuda.sqlite.log"
    fi
done

echo
echo "mixed sweep: experiments/sweep.toml --devices cpu:1,cuda:0"
db=$work/mixed.sqlite
if "$exp" run experiments/sweep.toml --devices cpu:1,cuda:0 --db "$db" >"$db.log" 2>&1; then
    sqlite3 -header -column "$db" "SELECT device, engine, status, COUNT(*) AS runs,
        printf('%.4f', avg(rmse)) AS mean_rmse FROM runs GROUP BY device, engine, status"
    devices=$(sqlite3 "$db" "SELECT COUNT(DISTINCT device) FROM runs WHERE status = 'finished'")
    unfinished=$(sqlite3 "$db" "SELECT COUNT(*) FROM runs WHERE status != 'finished'")
    if [ "$devices" -lt 2 ] || [ "$unfinished" -ne 0 ]; then
        echo "FAIL: $devices device(s) trained, $unfinished run(s) not finished"
        failed=1
    fi
else
    echo "FAIL: the mixed sweep exited with an error:"
    tail -n 5 "$db.log"
    failed=1
fi
exit $failed
