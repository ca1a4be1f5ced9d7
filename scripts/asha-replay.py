#!/usr/bin/env python3
"""Replays ASHA on the stored learning curves of random searches, to choose its rungs.

A random search's draws do not depend on its history, and with one worker ASHA's verdicts
depend only on the learning curves of the trials before, so a random search trained to
the end with every epoch stored holds everything needed to replay random search + ASHA
for any (min_epochs, reduction_factor): the same trials, the same verdicts, the epochs it
would have trained and the trial it would have chosen. This is how
scripts/search-compare.py's rungs were chosen, on search seeds it does not report:

    EXP_DATA_DIR=/path/to/data python3 scripts/search-compare.py --no-early-stopping \\
        --strategies random --first-seed 7 --seeds 4
    python3 scripts/asha-replay.py results/search-compare-no-es/exp.sqlite --seeds 7,8,9,10

Early stopping is replayed by cutting each curve where `--patience` epochs pass without a
better validation RMSE (training is deterministic, so the epochs before are the same); a
trial's objective is then its best validation RMSE, without it its last epoch's, as exp
does. Prints random search's mean best test RMSE and epochs, then the settings within
`--budget` of random's epochs, best first.
"""

import argparse
import itertools
import sqlite3
import statistics


def curves(db: str, name: str) -> list[list[tuple[int, float, float]]]:
    """Each trial's (epoch, validation RMSE, test RMSE), trials by number."""
    conn = sqlite3.connect(db)
    row = conn.execute("SELECT id FROM experiments WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise SystemExit(f"{db} has no experiment {name}")
    trials: dict[int, list] = {}
    for trial, epoch, val, test in conn.execute(
        "SELECT r.trial, e.epoch, e.val_rmse, e.rmse FROM runs r JOIN epochs e ON e.run_id = r.id"
        " WHERE r.experiment_id = ? ORDER BY r.trial, e.epoch",
        (row[0],),
    ):
        trials.setdefault(trial, []).append((epoch, val, test))
    return [trials[k] for k in sorted(trials)]


def early_stopped(curve, patience):
    """The curve up to the epoch early stopping with `patience` ends it."""
    if patience is None:
        return curve
    best, since = float("inf"), 0
    for i, (_, val, _) in enumerate(curve):
        best, since = (val, 0) if val < best else (best, since + 1)
        if since >= patience:
            return curve[: i + 1]
    return curve


def objective(curve, patience):
    """(validation, test) RMSE of the epoch exp keeps: the best with early stopping."""
    if patience is None:
        return curve[-1][1:]
    return min((val, test) for _, val, test in curve)


def rungs(min_epochs: int, factor: int, max_epochs: int) -> set[int]:
    out, epoch = set(), min_epochs
    while epoch <= max_epochs:
        out.add(epoch)
        epoch *= factor
    return out


def kept(score: float, others: list[float], factor: int) -> bool:
    """src/search/pruner.rs's rule: among the best max(n // factor, 1) of the rung."""
    competing = sorted(others + [score])
    return score <= competing[max(len(competing) // factor, 1) - 1]


def replay(trials, min_epochs, factor, patience, max_epochs):
    """(best trial's (validation, test) RMSE, epochs trained) of random search + ASHA."""
    at_rung: dict[int, list[float]] = {}
    rung_epochs = rungs(min_epochs, factor, max_epochs)
    epochs, best = 0, None
    for curve in trials:
        curve = early_stopped(curve, patience)
        pruned = False
        for i, (epoch, val, _) in enumerate(curve):
            epochs += 1
            if epoch in rung_epochs and epoch < max_epochs and i < len(curve) - 1:
                others = at_rung.setdefault(epoch, [])
                pruned = not kept(val, others, factor)
                others.append(val)
                if pruned:
                    break
        if not pruned:
            result = objective(curve, patience)
            best = result if best is None or result[0] < best[0] else best
    return best, epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db")
    parser.add_argument("--seeds", default="7,8,9,10", help="search seeds, comma-separated")
    parser.add_argument("--name", default="search-compare-random-s{}")
    parser.add_argument("--patience", type=int, default=5, help="0: no early stopping")
    parser.add_argument("--max-epochs", type=int, default=27)
    parser.add_argument("--budget", type=float, default=0.40, help="share of random's epochs")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    patience = args.patience or None
    data = [curves(args.db, args.name.format(s)) for s in args.seeds.split(",")]
    everything = args.max_epochs + 1  # no rung below the last epoch: no pruning
    full = [replay(t, everything, 2, patience, args.max_epochs) for t in data]
    test = statistics.mean(best[1] for best, _ in full)
    epochs = statistics.mean(e for _, e in full)
    print(f"random: best test RMSE {test:.4f}, {epochs:.0f} epochs "
          f"(per seed {' '.join(f'{b[1]:.4f}' for b, _ in full)})")
    rows = []
    for min_epochs, factor in itertools.product(range(1, 9), range(2, 7)):
        results = [replay(t, min_epochs, factor, patience, args.max_epochs) for t in data]
        mean_test = statistics.mean(best[1] for best, _ in results)
        share = statistics.mean(e for _, e in results) / epochs
        if share <= args.budget:
            rows.append((mean_test, min_epochs, factor, share, results))
    for mean_test, min_epochs, factor, share, results in sorted(rows)[: args.top]:
        print(f"min_epochs {min_epochs} reduction_factor {factor}: best test RMSE {mean_test:.4f}"
              f" ({mean_test - test:+.4f}), {share:.0%} of random's epochs "
              f"(per seed {' '.join(f'{b[1]:.4f}' for b, _ in results)})")


if __name__ == "__main__":
    main()
