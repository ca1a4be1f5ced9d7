#!/usr/bin/env python3
"""Random search vs TPE vs random search with ASHA, each with several search seeds.

Runs experiments/search-compare-ml100k.toml (MovieLens 100K, 90/10 holdout, 5%
validation, split seed 42, 60 trials over architecture, learning rate, L2, embedding size
and NCF's hidden layers, up to 27 epochs with early stopping after 5 epochs without a
better validation RMSE) as three strategies x N search seeds, every search in its own
experiment of one database, two searches at a time (one CPU worker each), then prints per
strategy, as mean +- sample standard deviation over the seeds:

- the test RMSE of the trial with the lowest validation RMSE among complete trials,
- that validation RMSE,
- the epochs trained (all runs, pruned ones included), and their share of random's,
- the wall seconds of the search.

Random and random+ASHA with one seed draw the same 60 configurations (random draws do not
depend on the history), so ASHA's effect is measured on identical trials.

Run from the repository root, after `cargo build --release`:

    EXP_DATA_DIR=/path/to/data python3 scripts/search-compare.py [--seeds 5] [--first-seed 2]

`--no-early-stopping` trains every trial for all 27 epochs and ranks it by its last
epoch (in its own database, results/search-compare-no-es/).

Results go to results/search-compare/exp.sqlite (delete it to start afresh: a rerun
resumes each search and measures nothing new).
"""

import argparse
import concurrent.futures
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "experiments" / "search-compare-ml100k.toml"
EXP = ROOT / "target" / "release" / "exp"
# Rungs at epochs 3 and 9 (27 is the last epoch). Chosen by replaying ASHA on the stored
# learning curves of random searches with seeds 1 and 7-10, which the comparison leaves
# out (--first-seed 2): with early stopping, rungs at 3 and 9 came within 0.0033 of random
# search's test RMSE with 38% of its epochs; no (min_epochs, factor) pair was both within
# 0.003 and under 40% on those seeds.
ASHA = "\n[search.pruner]\nkind = \"asha\"\nmin_epochs = 3\nreduction_factor = 3\n"
STRATEGIES = ["random", "tpe", "random+asha"]


def experiment_text(strategy: str, seed: int, trials: int, early_stopping: bool = True):
    text = BASE.read_text()
    if not early_stopping:
        text, n = re.subn(r"(?m)^patience = \d+\n", "", text)
        assert n == 1, "the experiment file's training.patience line moved"
    name = f"search-compare-{strategy.replace('+', '-')}-s{seed}"
    text = re.sub(r'(?m)^name = ".*"$', f'name = "{name}"', text, count=1)
    text = re.sub(r'(?m)^strategy = ".*"$', f'strategy = "{strategy.split("+")[0]}"', text)
    text = re.sub(r"(?m)^trials = \d+$", f"trials = {trials}", text)
    text = re.sub(r"(?m)^seed = 1$", f"seed = {seed}", text)
    if strategy.endswith("+asha"):
        text += ASHA
    return name, text


def run(name: str, text: str, out: Path, db: Path) -> tuple[str, float]:
    path = out / f"{name}.toml"
    path.write_text(text)
    started = time.monotonic()
    result = subprocess.run(
        [str(EXP), "run", str(path), "--db", str(db), "--jobs", "1"],
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"{name} failed:\n{result.stderr[-3000:]}")
    return name, seconds


def measure(db: Path, name: str) -> dict:
    conn = sqlite3.connect(db)
    (experiment_id,) = conn.execute("SELECT id FROM experiments WHERE name = ?", (name,)).fetchone()
    best = conn.execute(
        "SELECT number, value FROM trials WHERE experiment_id = ? AND status = 'complete'"
        " ORDER BY value LIMIT 1",
        (experiment_id,),
    ).fetchone()
    (test,) = conn.execute(
        "SELECT AVG(rmse) FROM runs WHERE experiment_id = ? AND trial = ?",
        (experiment_id, best[0]),
    ).fetchone()
    (epochs,) = conn.execute(
        "SELECT COUNT(*) FROM epochs e JOIN runs r ON r.id = e.run_id WHERE r.experiment_id = ?",
        (experiment_id,),
    ).fetchone()
    (pruned,) = conn.execute(
        "SELECT COUNT(*) FROM trials WHERE experiment_id = ? AND status = 'pruned'",
        (experiment_id,),
    ).fetchone()
    return {"validation": best[1], "test": test, "epochs": epochs, "pruned": pruned}


def mean_std(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} +- {statistics.stdev(values):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=2, help="seed 1 chose ASHA's rungs")
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--parallel", type=int, default=2, help="searches at a time")
    parser.add_argument("--strategies", default=",".join(STRATEGIES),
                        help="comma-separated, of " + ", ".join(STRATEGIES))
    parser.add_argument("--no-early-stopping", action="store_true",
                        help="train all 27 epochs and rank trials by their last epoch")
    args = parser.parse_args()
    if not EXP.is_file():
        sys.exit(f"build first: cargo build --release ({EXP} is missing)")
    if "EXP_DATA_DIR" not in os.environ:
        sys.exit("set EXP_DATA_DIR to the directory that holds ml-100k/")
    early_stopping = not args.no_early_stopping
    strategies = args.strategies.split(",")
    if unknown := set(strategies) - set(STRATEGIES):
        sys.exit(f"unknown strategies {sorted(unknown)}: pick from {', '.join(STRATEGIES)}")
    if "random" not in strategies:
        sys.exit("--strategies needs random: the others are measured against it")
    out = ROOT / "results" / ("search-compare" if early_stopping else "search-compare-no-es")
    out.mkdir(parents=True, exist_ok=True)
    db = out / "exp.sqlite"
    jobs = [
        (strategy, seed, *experiment_text(strategy, seed, args.trials, early_stopping))
        for seed in range(args.first_seed, args.first_seed + args.seeds)
        for strategy in strategies
    ]
    # The database is created once, before the searches share it.
    first, wall = run(*jobs[0][2:], out, db)
    seconds = {first: wall}
    with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
        for name, wall in pool.map(lambda job: run(job[2], job[3], out, db), jobs[1:]):
            seconds[name] = wall
            print(f"{name}: {wall:.0f} s", file=sys.stderr)
    rows = {s: [] for s in strategies}
    for strategy, seed, name, _ in jobs:
        rows[strategy].append({**measure(db, name), "seconds": seconds[name], "seed": seed})
    random_epochs = statistics.mean(r["epochs"] for r in rows["random"])
    print(f"ML-100K, 90/10 holdout, 5% validation, split seed 42; {args.trials} trials; "
          f"search seeds {args.first_seed}-{args.first_seed + args.seeds - 1}; "
          f"{'early stopping (patience 5)' if early_stopping else 'no early stopping'}; "
          "mean +- std over seeds")
    print(f"{'strategy':<12} {'best test RMSE':>18} {'its val RMSE':>18} {'epochs':>9} "
          f"{'vs random':>9} {'pruned':>6} {'wall s':>7}")
    for strategy in strategies:
        r = rows[strategy]
        epochs = statistics.mean(x["epochs"] for x in r)
        walls = [x["seconds"] for x in r if x["seconds"] is not None]
        print(
            f"{strategy:<12} {mean_std([x['test'] for x in r]):>18} "
            f"{mean_std([x['validation'] for x in r]):>18} {epochs:>9.0f} "
            f"{epochs / random_epochs:>8.0%} {statistics.mean(x['pruned'] for x in r):>6.1f} "
            f"{statistics.median(walls) if walls else float('nan'):>7.0f}"
        )
    print("per seed (test RMSE of the validation-chosen trial):")
    for strategy in strategies:
        print(f"  {strategy:<12} " + "  ".join(f"{x['test']:.4f}" for x in rows[strategy]))


if __name__ == "__main__":
    main()
