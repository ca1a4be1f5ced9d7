#!/usr/bin/env python3
"""exp against other trainers of classical MF on the same ratings (the "peers" benchmark).

Run by scripts/bench-peers.sh inside its virtual environment (scikit-surprise, cornac,
libmf, numpy). For each case exp writes its split rows (`exp data split`), so every side
trains on exactly exp's training rows and is scored on exp's test rows. Each repeat runs
exp once per case and then each of the case's peers right after it (interleaved), so a
noisy machine disturbs both sides alike; the tables report medians over the repeats.

What each timer covers:
- exp: the `train_seconds` of each stored epoch (the training steps alone, without the
  per-epoch test scoring); where the database has no such column (an older exp), the
  epoch's `seconds`, which also scores the test rows, and the table says so. s/epoch is
  their sum over the run divided by the epochs.
- Surprise SVD / SVDpp: `algo.fit(trainset)`: initialisation and the epochs (Surprise's
  own trainset, built before the timer starts).
- cornac MF: `model.fit(train_set)`: initialisation and the SGD epochs (cornac's Dataset
  built before the timer starts).
- LIBMF: `engine.fit(X)`: copying the rows into LIBMF, its block grid and the iterations.
Every side's s/epoch is its timed seconds / epochs; ratings/s = training rows / s/epoch.
Test RMSE is of the final model, predictions clipped to the rating range; a test user or
item not in the training rows gets the training mean (cornac, LIBMF) or the model's own
fallback (Surprise: the mean plus the known biases).
"""

import argparse
import contextlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SEED = 42

# exp's squared-error gradient is 2e (the derivative of (r - p)^2) where Surprise and cornac
# step along e, and exp adds l2 * w to a row's gradient: so Surprise's (lr, reg) is exp's
# (lr / 2, 2 * reg), the same update to the last bit of arithmetic.
#
# The cases: exp's experiment and the peers trained beside it. `exp` holds the [model] and
# [training] keys; peers are (name, label, trainer function name, parameters).
CASES = [
    {
        "name": "svd-k100",
        "title": "ML-100K, k 100, 20 epochs, per-rating SGD (lr 0.005, reg 0.02, init std 0.1)",
        "epochs": 20,
        "model": {
            "architecture": "funk-svd",
            "embedding_size": 100,
            "init": "normal",
            "init_scale": 0.1,
        },
        "training": {
            "optimizer": "sgd",
            "batch_size": 1,
            "momentum": 0.0,
            "learning_rate": 0.0025,
            "l2": 0.04,
            "loss": "mse",
        },
        "peers": [
            ("cornac-mf", "cornac MF (1 thread; Surprise's lr 0.005, reg 0.02, init std 0.1, biased)", "cornac_mf", {"k": 100, "threads": 1}),
            ("libmf-1t", "LIBMF (1 thread; its own defaults: eta 0.1 adaptive, L2 0.1, no biases)", "libmf", {"k": 100, "threads": 1}),
            ("libmf-2t", "LIBMF (2 threads; as above)", "libmf", {"k": 100, "threads": 2}),
            ("surprise-svd", "Surprise SVD (lr 0.005, reg 0.02, init std 0.1, biased)", "surprise_svd", {"k": 100}),
        ],
    },
    {
        "name": "svdpp-k20",
        "title": "ML-100K, k 20, 20 epochs, SVD++ per-rating SGD (lr 0.007, reg 0.02, init std 0.1)",
        "epochs": 20,
        "model": {
            "architecture": "svdpp",
            "embedding_size": 20,
            "init": "normal",
            "init_scale": 0.1,
        },
        "training": {
            "optimizer": "sgd",
            "batch_size": 1,
            "momentum": 0.0,
            "learning_rate": 0.0035,
            "l2": 0.04,
            "loss": "mse",
        },
        "peers": [
            ("surprise-svdpp", "Surprise SVDpp (lr 0.007, reg 0.02, init std 0.1)", "surprise_svdpp", {"k": 20}),
        ],
    },
]


def toml_value(value):
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def experiment_toml(case):
    lines = [
        "[experiment]",
        f'name = "peers-{case["name"]}"',
        f"seed = {SEED}",
        "[data]",
        'dataset = "ml-100k"',
        "[split]",
        'kind = "holdout"',
        "test_fraction = 0.1",
        "[model]",
    ]
    lines += [f"{k} = {toml_value(v)}" for k, v in case["model"].items()]
    lines.append("[training]")
    lines.append(f"epochs = {case['epochs']}")
    lines += [f"{k} = {toml_value(v)}" for k, v in case["training"].items()]
    return "\n".join(lines) + "\n"


def run_checked(command, what):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(
            f"bench-peers: {what} failed (exit {done.returncode}): {' '.join(map(str, command))}\n"
            f"{done.stderr.strip()}"
        )
    return done


def read_rows(path):
    """(users, items, ratings) of a CSV `exp data split` wrote, raw ids as strings."""
    users, items, ratings = [], [], []
    with open(path, encoding="utf-8") as f:
        header = f.readline().strip()
        if header != "user,item,rating":
            sys.exit(f"bench-peers: {path}: expected the header `user,item,rating`, found `{header}`")
        for n, line in enumerate(f, start=2):
            parts = line.rstrip("\n").split(",")
            if len(parts) != 3:
                sys.exit(f"bench-peers: {path}:{n}: expected 3 fields, found {len(parts)}")
            users.append(parts[0])
            items.append(parts[1])
            ratings.append(float(parts[2]))
    return users, items, np.array(ratings, dtype=np.float32)


class Rows:
    """A case's split: raw rows and dense indices (training users/items first)."""

    def __init__(self, folder):
        self.train = read_rows(folder / "train.csv")
        self.test = read_rows(folder / "test.csv")
        self.uid = {u: n for n, u in enumerate(dict.fromkeys(self.train[0]))}
        self.iid = {i: n for n, i in enumerate(dict.fromkeys(self.train[1]))}
        self.low = float(min(self.train[2].min(), self.test[2].min()))
        self.high = float(max(self.train[2].max(), self.test[2].max()))
        self.mean = float(self.train[2].astype(np.float64).mean())
        self.train_u = np.array([self.uid[u] for u in self.train[0]], dtype=np.int64)
        self.train_i = np.array([self.iid[i] for i in self.train[1]], dtype=np.int64)
        self.test_u = np.array([self.uid.get(u, -1) for u in self.test[0]], dtype=np.int64)
        self.test_i = np.array([self.iid.get(i, -1) for i in self.test[1]], dtype=np.int64)
        self.known = (self.test_u >= 0) & (self.test_i >= 0)

    def rmse(self, predicted):
        p = np.clip(np.asarray(predicted, dtype=np.float64), self.low, self.high)
        return float(np.sqrt(np.mean((p - self.test[2].astype(np.float64)) ** 2)))


def cornac_mf(rows, epochs, params, rng):
    import cornac

    train_set = cornac.data.Dataset.from_uir(
        list(zip(rows.train[0], rows.train[1], rows.train[2].tolist())), seed=SEED
    )
    k = params["k"]
    init = {
        "U": rng.normal(0, 0.1, (train_set.num_users, k)).astype(np.float32),
        "V": rng.normal(0, 0.1, (train_set.num_items, k)).astype(np.float32),
    }
    model = cornac.models.MF(
        k=k, max_iter=epochs, learning_rate=0.005, lambda_reg=0.02, use_bias=True,
        early_stop=False, num_threads=params["threads"], init_params=init, seed=SEED,
    )
    started = time.perf_counter()
    model.fit(train_set)
    seconds = time.perf_counter() - started
    predicted = np.full(len(rows.test[2]), rows.mean)
    for n, (u, i) in enumerate(zip(rows.test[0], rows.test[1])):
        uu, ii = train_set.uid_map.get(u), train_set.iid_map.get(i)
        if uu is not None and ii is not None:
            predicted[n] = model.score(uu, ii)
    return seconds, rows.rmse(predicted)


def libmf(rows, epochs, params, rng):
    # The bindings print where they found their library on stdout, which holds the table.
    with contextlib.redirect_stdout(sys.stderr):
        from libmf import mf

    engine = mf.MF(
        k=params["k"], nr_iters=epochs, nr_threads=params["threads"], eta=0.1,
        lambda_p1=0.0, lambda_q1=0.0, lambda_p2=0.1, lambda_q2=0.1, quiet=True,
    )
    data = np.ascontiguousarray(
        np.column_stack([rows.train_u, rows.train_i, rows.train[2]]).astype(np.float32)
    )
    started = time.perf_counter()
    engine.fit(data)
    seconds = time.perf_counter() - started
    predicted = np.full(len(rows.test[2]), rows.mean)
    pairs = np.column_stack([rows.test_u[rows.known], rows.test_i[rows.known]]).astype(np.float32)
    # The bindings' predict reads its (n, 2) input column-major: users first, then items.
    predicted[rows.known] = engine.predict(np.asfortranarray(pairs))
    return seconds, rows.rmse(predicted)


def surprise_trainset(rows):
    import surprise

    reader = surprise.Reader(rating_scale=(rows.low, rows.high))
    data = surprise.Dataset.load_from_folds([], reader)
    raw = [(u, i, float(r), None) for u, i, r in zip(rows.train[0], rows.train[1], rows.train[2])]
    return data.construct_trainset(raw)


def surprise_fit(rows, algo):
    trainset = surprise_trainset(rows)
    started = time.perf_counter()
    algo.fit(trainset)
    seconds = time.perf_counter() - started
    predicted = [
        algo.predict(u, i, clip=True).est for u, i in zip(rows.test[0], rows.test[1])
    ]
    return seconds, rows.rmse(predicted)


def surprise_svd(rows, epochs, params, rng):
    import surprise

    algo = surprise.SVD(
        n_factors=params["k"], n_epochs=epochs, biased=True, init_mean=0, init_std_dev=0.1,
        lr_all=0.005, reg_all=0.02, random_state=SEED,
    )
    return surprise_fit(rows, algo)


def surprise_svdpp(rows, epochs, params, rng):
    import surprise

    algo = surprise.SVDpp(
        n_factors=params["k"], n_epochs=epochs, init_mean=0, init_std_dev=0.1,
        lr_all=0.007, reg_all=0.02, random_state=SEED, cache_ratings=False,
    )
    return surprise_fit(rows, algo)


TRAINERS = {"cornac_mf": cornac_mf, "libmf": libmf, "surprise_svd": surprise_svd, "surprise_svdpp": surprise_svdpp}


def run_exp(exp, toml_path, db, epochs):
    """(seconds per epoch, test RMSE of the last epoch, which timer) of one `exp run`."""
    if db.exists():
        db.unlink()
    run_checked([exp, "run", str(toml_path), "--db", str(db)], f"exp run {toml_path}")
    conn = sqlite3.connect(db)
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(epochs)")}
        timer = "train_seconds" if "train_seconds" in columns else "seconds"
        rows = conn.execute(
            f"SELECT e.{timer}, e.rmse FROM epochs e JOIN runs r ON r.id = e.run_id "
            "WHERE r.status = 'finished' ORDER BY e.epoch"
        ).fetchall()
    finally:
        conn.close()
    if len(rows) != epochs:
        sys.exit(f"bench-peers: {db}: expected {epochs} stored epochs, found {len(rows)}")
    return sum(r[0] for r in rows) / epochs, rows[-1][1], timer


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exp", required=True, help="the exp binary")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated case or peer names")
    parser.add_argument("--out", default="results/bench")
    args = parser.parse_args()
    if args.repeats < 1:
        sys.exit("bench-peers: --repeats must be at least 1")

    only = [w for w in args.only.split(",") if w]
    names = [c["name"] for c in CASES] + [p[0] for c in CASES for p in c["peers"]]
    for word in only:
        if word not in names:
            sys.exit(f"bench-peers: --only {word}: expected one of {', '.join(names)}")
    cases = []
    for case in CASES:
        peers = [p for p in case["peers"] if not only or case["name"] in only or p[0] in only]
        if peers:
            cases.append(dict(case, peers=peers))

    work = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    rng = np.random.default_rng(SEED)
    rows_of, files = {}, {}
    for case in cases:
        toml_path = work / f"{case['name']}.toml"
        toml_path.write_text(experiment_toml(case), encoding="utf-8")
        folder = work / case["name"]
        run_checked([args.exp, "data", "split", str(toml_path), "--out", str(folder)], "exp data split")
        rows_of[case["name"]] = Rows(folder)
        files[case["name"]] = toml_path
        print(f"{case['name']}: {len(rows_of[case['name']].train[2])} training rows, "
              f"{len(rows_of[case['name']].test[2])} test rows (exp data split)", file=sys.stderr)

    samples = {(c["name"], p[0]): [] for c in cases for p in c["peers"]}
    timers = set()
    for repeat in range(args.repeats):
        for case in cases:
            rows, epochs = rows_of[case["name"]], case["epochs"]
            exp_spe, exp_rmse, timer = run_exp(args.exp, files[case["name"]], work / "exp.sqlite", epochs)
            timers.add(timer)
            print(f"[{repeat + 1}/{args.repeats}] {case['name']} exp: {exp_spe:.4f} s/epoch, "
                  f"RMSE {exp_rmse:.4f}", file=sys.stderr)
            for name, _, trainer, params in case["peers"]:
                seconds, rmse = TRAINERS[trainer](rows, epochs, params, rng)
                peer_spe = seconds / epochs
                print(f"[{repeat + 1}/{args.repeats}] {case['name']} {name}: {peer_spe:.4f} s/epoch, "
                      f"RMSE {rmse:.4f}", file=sys.stderr)
                samples[(case["name"], name)].append(
                    {"exp_seconds_per_epoch": exp_spe, "exp_rmse": exp_rmse,
                     "peer_seconds_per_epoch": peer_spe, "peer_rmse": rmse}
                )

    results = []
    for case in cases:
        n_train = len(rows_of[case["name"]].train[2])
        for name, label, _, _ in case["peers"]:
            s = samples[(case["name"], name)]
            med = lambda key: statistics.median(x[key] for x in s)
            results.append({
                "case": case["name"], "title": case["title"], "peer": name, "peer_label": label,
                "repeats": len(s), "epochs": case["epochs"], "train_ratings": n_train,
                "exp_seconds_per_epoch": med("exp_seconds_per_epoch"),
                "peer_seconds_per_epoch": med("peer_seconds_per_epoch"),
                "exp_ratings_per_second": n_train / med("exp_seconds_per_epoch"),
                "peer_ratings_per_second": n_train / med("peer_seconds_per_epoch"),
                # > 1: exp is faster. The median of the per-repeat ratios.
                "speedup": statistics.median(x["peer_seconds_per_epoch"] / x["exp_seconds_per_epoch"] for x in s),
                "exp_rmse": med("exp_rmse"), "peer_rmse": med("peer_rmse"),
                "samples": s,
            })

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    exp_timer = "/".join(sorted(timers))
    (out / "peers.json").write_text(json.dumps({"exp_timer": exp_timer, "repeats": args.repeats,
                                                "results": results}, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# exp against its peers",
        "",
        f"Medians of {args.repeats} interleaved repeats on the same rows (`exp data split`, "
        "ML-100K 90/10 holdout, seed 42). s/epoch = timed training seconds / epochs; "
        "speed-up = peer s/epoch ÷ exp s/epoch (median of the per-repeat ratios; > 1: exp is faster).",
        "",
        f"exp's timer: the stored epochs' `{exp_timer}`"
        + (" (training steps only)." if exp_timer == "train_seconds" else
           " (training and scoring the test rows: this exp stores no training-only time)."),
        "Peers' timers: the `fit` call (see scripts/bench_peers.py).",
        "",
        "| case | peer | exp s/epoch | peer s/epoch | speed-up | exp ratings/s | peer ratings/s | exp RMSE | peer RMSE |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r['case']} | {r['peer_label']} | {r['exp_seconds_per_epoch']:.4f} | "
            f"{r['peer_seconds_per_epoch']:.4f} | {r['speedup']:.2f}× | "
            f"{r['exp_ratings_per_second'] / 1e6:.2f} M | {r['peer_ratings_per_second'] / 1e6:.2f} M | "
            f"{r['exp_rmse']:.4f} | {r['peer_rmse']:.4f} |"
        )
    lines.append("")
    for case in cases:
        lines.append(f"- {case['name']}: {case['title']}.")
    (out / "peers.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"wrote {out / 'peers.md'} and {out / 'peers.json'}", file=sys.stderr)


if __name__ == "__main__":
    main()
