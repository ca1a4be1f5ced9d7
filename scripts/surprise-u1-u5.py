#!/usr/bin/env python3
"""Surprise's SVD and SVDpp, default parameters, on ML-100K's shipped folds u1-u5.

Published reference numbers for exp's experiments/published/ml100k-u1*.toml: each model
is trained on uN.base and scored on uN.test with Surprise's own PredefinedKFold and the
built-in 'ml-100k' reader format, and the script prints the RMSE on u1 and the mean over
u1-u5. Surprise's defaults are its own (SVD: 100 factors, 20 epochs, lr 0.005, reg 0.02;
SVDpp: 20 factors, 20 epochs, lr 0.007, reg 0.02); random_state fixes the seed.

Needs a Python with scikit-surprise, for example the one scripts/bench-peers.sh creates:

    python3 -m venv results/peers-venv
    results/peers-venv/bin/python -m pip install numpy scikit-surprise

Run (ML-100K read from $EXP_DATA_DIR/ml-100k, default ../shared/data):

    EXP_DATA_DIR=/path/to/data results/peers-venv/bin/python scripts/surprise-u1-u5.py

Options: --seed N (default 0), --folds u1,u2 (default u1-u5). SVDpp takes a few minutes
per fold on one core.
"""

import argparse
import os
import sys
import time
from pathlib import Path

try:
    from surprise import SVD, SVDpp, Dataset, Reader, accuracy
    from surprise.model_selection import PredefinedKFold
except ImportError:
    sys.exit("surprise-u1-u5: scikit-surprise is not installed in this Python (see the header)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="random_state of each model")
    parser.add_argument(
        "--folds", default="u1,u2,u3,u4,u5", help="comma-separated fold names (u1..u5, ua, ub)"
    )
    args = parser.parse_args()

    root = Path(__file__).resolve().parent.parent
    data_dir = Path(os.environ.get("EXP_DATA_DIR", root.parent / "shared" / "data")) / "ml-100k"
    folds = [f.strip() for f in args.folds.split(",") if f.strip()]
    files = []
    for fold in folds:
        train, test = data_dir / f"{fold}.base", data_dir / f"{fold}.test"
        for path in (train, test):
            if not path.is_file():
                sys.exit(f"surprise-u1-u5: {path} is missing (needs ML-100K's {fold} files)")
        files.append((str(train), str(test)))

    data = Dataset.load_from_folds(files, reader=Reader("ml-100k"))
    results = {}
    for name, make in (("SVD", SVD), ("SVDpp", SVDpp)):
        rmses = []
        for fold, (trainset, testset) in zip(folds, PredefinedKFold().split(data)):
            start = time.perf_counter()
            algo = make(random_state=args.seed)
            algo.fit(trainset)
            rmse = accuracy.rmse(algo.test(testset), verbose=False)
            rmses.append(rmse)
            print(f"{name:6} {fold}: RMSE {rmse:.4f} ({time.perf_counter() - start:.1f} s)", flush=True)
        results[name] = rmses

    print()
    print(f"Surprise {getattr(sys.modules['surprise'], '__version__', '?')}, seed {args.seed}, "
          f"default parameters, {data_dir}")
    print("| model | " + " | ".join(folds) + " | mean |")
    print("|---|" + "---|" * (len(folds) + 1))
    for name, rmses in results.items():
        cells = " | ".join(f"{r:.4f}" for r in rmses)
        print(f"| {name} | {cells} | {sum(rmses) / len(rmses):.4f} |")


if __name__ == "__main__":
    main()
