#!/usr/bin/env python3
"""Regenerates the numbers in README.md from the experiments and the last benchmark run.

Every number the README quotes from an experiment sits between two markers,

    <!-- numbers:NAME -->
    ...generated text...
    <!-- /numbers:NAME -->

and this script replaces the text between them with what the experiments give today:
it trains each experiment into a fresh database and reads the results back through
`exp compare --format json`, `exp export --format json` and the commands the README
shows. Reference figures that do not come from exp (PyTorch re-implementations, the
notebooks, Surprise) are constants below, each saying where it comes from.

The speed table is built from docs/bench/bench.json, which `scripts/bench.sh` writes; it
is not re-measured here (the suite takes about 10 minutes of an idle machine). Numbers in
the prose that describe a past change (before/after timings) are not regenerated.

Usage (through scripts/readme-numbers.sh, which builds exp first):

    scripts/readme_numbers.py --exp target/release/exp [--only NAME]... [--list] [--check]

--only regenerates the named blocks (the others keep their text); --check writes nothing
and exits 1 when README.md would change. EXP_DATA_DIR names the folder holding ml-100k/
(default ../shared/data).
"""

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

# PyTorch re-implementations of the seed notebooks, same model and hyperparameters, ML-100K
# 90/10 holdout, measured on the development machine (test RMSE).
PYTORCH_SEED_RMSE = {
    "dot-mf": 0.949,
    "biased-mf": 0.917,
    "ncf": 0.948,
    "ncf-two-layer": 0.967,
    "mlp": 0.938,
    "dot-adamax-100": 0.973,
}
# PyTorch biased MF with 50 factors, 10 epochs, 90/10 holdout (test RMSE).
PYTORCH_FOUNDATION_RMSE = {"ml-latest-small": 0.844, "ml-100k": 0.917}
# What the ML-1M notebook itself reported.
NOTEBOOK_ML1M = "0.8616 (SVD baseline 0.8736)"
# The fastest PyTorch seed model at batch 64 on ML-100K, seconds per epoch.
PYTORCH_FASTEST_EPOCH = 0.66


class Context:
    """The exp binary, a scratch folder for databases and the data folder."""

    def __init__(self, exp, scratch, data_dir):
        self.exp = exp
        self.scratch = Path(scratch)
        self.env = dict(os.environ, EXP_DATA_DIR=str(data_dir))
        self.seconds = {}

    def db(self, name):
        return str(self.scratch / f"{name}.sqlite")

    def exp_out(self, *args, terminal=False):
        """Runs exp and returns its stdout (with `terminal`, stderr and stdout interleaved
        as a terminal shows them: notes included); raises with its stderr on failure."""
        done = subprocess.run(
            [self.exp, *args], cwd=ROOT, env=self.env, text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if terminal else subprocess.PIPE,
        )
        if done.returncode != 0:
            raise RuntimeError(f"exp {' '.join(args)} failed:\n{(done.stderr or done.stdout).strip()}")
        return done.stdout

    def run(self, db, file, *extra):
        """Trains an experiment file into a database; returns the wall seconds, or None
        when the run fails (e.g. its data set is not on this machine)."""
        start = time.monotonic()
        done = subprocess.run(
            [self.exp, "run", file, "--db", self.db(db), *extra],
            cwd=ROOT, env=self.env, capture_output=True, text=True,
        )
        if done.returncode != 0:
            print(f"  {file}: exp run failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            return None
        return time.monotonic() - start

    def compare(self, db, experiment, *extra):
        return json.loads(self.exp_out("compare", "-e", experiment, "--db", self.db(db),
                                       "--format", "json", *extra))

    def export(self, db, experiment):
        return json.loads(self.exp_out("export", "-e", experiment, "--db", self.db(db),
                                       "--format", "json"))


def experiment_name(file):
    """The `[experiment] name` of a file (the README's files are plain enough for a regex)."""
    text = (ROOT / file).read_text()
    return re.search(r'^name\s*=\s*"([^"]+)"', text, re.M).group(1)


def table(header, aligns, rows):
    """A Markdown table; aligns holds 'l' or 'r' per column."""
    lines = ["| " + " | ".join(header) + " |",
             "| " + " | ".join("---:" if a == "r" else "---" for a in aligns) + " |"]
    lines += [("| " + " | ".join(row) + " |").replace("|  |", "| |").replace("|  |", "| |")
              for row in rows]
    return "\n".join(lines)


def mean_std(metric, digits=4):
    """'0.8409 ± 0.0034' for folds, '0.8370' for one run."""
    if metric.get("n", 1) > 1 and metric.get("std") is not None:
        return f"{metric['mean']:.{digits}f} ± {metric['std']:.{digits}f}"
    return f"{metric['mean']:.{digits}f}"


def bold(text, yes):
    return f"**{text}**" if yes else text


def short_exponent(x):
    """2.3e-9, 4.1e-4, 1.1e-3: a difference with two significant digits."""
    if x == 0:
        return "0"
    mantissa, exponent = f"{x:.1e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def seconds_per_run(s):
    """Whole seconds from 10 s up, one decimal below."""
    return f"{s:.0f}" if s >= 10 else f"{s:.1f}"


def seconds_text(s):
    return f"{s:.1f}" if s >= 0.05 else "0.0"


def by_params(compare, **params):
    """The configuration of a compare JSON whose params include the given short keys."""
    for config in compare["configurations"]:
        short = {k.split(".")[-1]: v for k, v in config["params"].items()}
        if all(short.get(k) == v for k, v in params.items()):
            return config
    raise KeyError(f"no configuration with {params}")


# ---------------------------------------------------------------------------------------
# Blocks. Each takes the context and returns the text between its markers.


def block_two_commands(ctx):
    median = sweep_seconds(ctx)
    return ("```sh\n"
            f"cargo run --release -- run experiments/sweep.toml   # the default sweep: 40 runs, offline, ~{math.ceil(median)} s on 2 cores once built\n"
            "cargo test --release                                # all tests (they also read ../shared/data, see below)\n"
            "```")


def sweep_seconds(ctx):
    """Median wall time of the default sweep into a fresh database, three times."""
    if "sweep" not in ctx.seconds:
        times = [ctx.run(f"sweep-time-{i}", "experiments/sweep.toml") for i in range(3)]
        ctx.seconds["sweep"] = statistics.median(times)
    return ctx.seconds["sweep"]


def block_sweep(ctx):
    ctx.run("sweep", "experiments/sweep.toml")
    lines = ctx.exp_out("compare", "-e", "sweep", "--db", ctx.db("sweep")).splitlines()
    rows = [line for line in lines if re.match(r"^\s+\d+\s", line)]
    footer = [line for line in lines if line and not re.match(r"^(\s+\d+\s|rank )", line)]
    p_line = footer[1].split(";")[0] + "; …"
    return "\n".join(["```", lines[0], *rows[:2], "   …", rows[-1], "", footer[0], p_line, "```"])


def block_recommend(ctx):
    ctx.run("recommend-example", "experiments/recommend.toml")
    db = ctx.db("recommend-example")
    runs = ctx.exp_out("runs", "-e", "recommend", "--db", db).rstrip("\n")
    top = ctx.exp_out("recommend", "-e", "recommend", "--best", "--user", "1", "-n", "5",
                      "--db", db, terminal=True).rstrip("\n")
    return "\n".join([
        "```",
        "$ exp run experiments/recommend.toml",
        "$ exp runs -e recommend        # ids as in an empty database; yours count on from what it holds",
        runs,
        "$ exp recommend -e recommend --best --user 1 -n 5",
        top,
        "```",
    ])


def block_foundation(ctx):
    rows = []
    for dataset in ["ml-latest-small", "ml-100k"]:
        file = f"experiments/accuracy/{dataset}-biased.toml"
        if ctx.run("foundation", file) is None:
            continue
        compare = ctx.compare("foundation", experiment_name(file))
        for arch in ["biased-mf", "dot-mf"]:
            config = by_params(compare, architecture=arch)
            ref = PYTORCH_FOUNDATION_RMSE.get(dataset) if arch == "biased-mf" else None
            rmse = config["metrics"]["rmse"]["mean"]
            rows.append([dataset, "90/10 holdout", "42", f"{arch}, 32 factors",
                         bold(f"{rmse:.4f}", ref is not None and rmse < ref),
                         f"{config['metrics']['mae']['mean']:.4f}",
                         f"{ref} (50 factors)" if ref else ""])
    ctx.run("sweep", "experiments/sweep.toml")
    cv = by_params(ctx.compare("sweep", "sweep"), architecture="biased-mf", embedding_size=32)
    rows.append(["ml-latest-small", "5-fold CV", "42", "biased-mf, 32 factors",
                 mean_std(cv["metrics"]["rmse"]), mean_std(cv["metrics"]["mae"]), ""])
    return table(["data set", "split", "seed", "model", "test RMSE", "test MAE", "PyTorch reference"],
                 "llllrrr", rows)


# The seed table: label, file, and for files with several configurations the architecture.
SEED_ROWS = [
    ("dot-product MF, 50 factors, Adam", "dot-mf", None),
    ("biased MF + scaled sigmoid, 50 factors", "biased-mf", None),
    ("NCF [10], dropout 0.05 / 0.5", "ncf", None),
    ("NCF, two layers of 10", "ncf-two-layer", None),
    ("MLP 5+5 → 128 → 32 → 1", "mlp", None),
    ("dot MF, 100 factors, AdaMax, early stopping (on ML-100K)", "dot-adamax-100", None),
    ("the same on ML-1M", "dot-adamax-100-ml1m", None),
    ("Funk SVD, SGD + momentum", "funk-svd", None),
    ("SVD++, 64 factors, Adam (classical baseline, not a notebook)", "svdpp", None),
    ("damped biases (closed form)", "baselines", "biases"),
    ("global mean", "baselines", "global-mean"),
    ("two-tower content model (ml-latest-small)", "two-tower", None),
]


def seed_runs(ctx, seed, engine):
    """The finished runs of a seed file on an engine, by architecture (None if it failed)."""
    key = (seed, engine)
    if key not in ctx.seconds:
        file = f"experiments/seeds/{seed}.toml"
        extra = ["--set", f"training.engine={engine}"] if engine != "auto" else []
        db = f"seed-{engine}"
        if ctx.run(db, file, *extra) is None:
            ctx.seconds[key] = None
        else:
            runs = [r for r in ctx.export(db, experiment_name(file)) if r["status"] == "finished"]
            ctx.seconds[key] = {r["config"]["model"]["architecture"]: r for r in runs}
    return ctx.seconds[key]


def block_seeds(ctx):
    rows = []
    for label, seed, arch in SEED_ROWS:
        runs = seed_runs(ctx, seed, "auto")
        notebook = NOTEBOOK_ML1M if seed.endswith("ml1m") else ""
        if runs is None:
            rows.append([label, f"`{seed}.toml`", "", "not run here (its data set is not at hand)",
                         "", "", notebook])
            continue
        run = runs[arch] if arch else next(iter(runs.values()))
        ref = PYTORCH_SEED_RMSE.get(seed)
        rmse = run["metrics"]["rmse"]
        closed_form = run["config"]["model"]["architecture"] in ("biases", "global-mean")
        rows.append([label, f"`{seed}.toml`",
                     "" if closed_form else str(run["config"]["training"]["epochs"]),
                     bold(f"{rmse:.4f}", ref is not None and rmse < ref),
                     f"{run['metrics']['mae']:.4f}", f"{ref}" if ref else "", notebook])
    return table(["notebook setup", "file", "epochs", "test RMSE", "test MAE", "PyTorch",
                  "notebook reported"], "llrrrrl", rows)


ENGINE_SEEDS = ["dot-mf", "biased-mf", "dot-adamax-100", "funk-svd", "svdpp", "ncf",
                "ncf-two-layer", "mlp", "two-tower"]


def block_engines(ctx):
    rows = []
    for seed in ENGINE_SEEDS:
        fused = seed_runs(ctx, seed, "fused")
        graph = seed_runs(ctx, seed, "graph")
        if not fused or not graph:
            continue
        f = next(iter(fused.values()))["metrics"]["rmse"]
        g = next(iter(graph.values()))["metrics"]["rmse"]
        rows.append([f"`{seed}`", f"{f:.9f}", f"{g:.9f}", short_exponent(abs(f - g))])
    return table(["seed", "fused test RMSE", "graph test RMSE", "difference"], "lrrr", rows)


def block_architectures(ctx):
    seconds = ctx.run("architectures", "experiments/architectures.toml", "--jobs", "2")
    compare = ctx.compare("architectures", "architectures")
    rows = []
    for config in compare["configurations"]:
        rows.append([config["params"]["model.architecture"],
                     bold(mean_std(config["metrics"]["rmse"]), config["rank"] == 1),
                     mean_std(config["metrics"]["mae"]), seconds_text(config["seconds"]["mean"])])
    runs = sum(c["folds"] for c in compare["configurations"])
    intro = ("Every architecture side by side (`exp run experiments/architectures.toml --jobs 2`:\n"
             "ml-latest-small, 5-fold CV, seed 42, 32 factors, 10 epochs, batch 64, Adam 0.001, L2 0.001;\n"
             f"{seconds:.0f} s for {runs} runs):\n\n")
    return intro + table(["architecture", "test RMSE", "test MAE", "s/run"], "lrrr", rows)


TUNED = [
    ("experiments/ml100k-tuned-svdpp.toml",
     "SVD++, 64 factors, Adam 0.0005, L2 0.002; implicit L2 scale 0.2/0.3/0.5 × 30/50 epochs"),
    ("experiments/ml100k-tuned.toml",
     "biased MF, 32/64 factors × L2 0.0015/0.002/0.003, 40 epochs of Adam 0.0005"),
]
PARAM_WORDS = {"implicit_l2_scale": "scale {}", "epochs": "{} epochs",
               "embedding_size": "{} factors", "l2": "L2 {}"}


def block_tuned(ctx):
    rows = []
    for i, (file, grid) in enumerate(TUNED):
        if ctx.run("tuned", file, "--jobs", "2") is None:
            continue
        best = ctx.compare("tuned", experiment_name(file))["configurations"][0]
        words = [PARAM_WORDS.get(k.split(".")[-1], k.split(".")[-1] + " {}").format(v)
                 for k, v in best["params"].items()]
        rows.append([f"`{file}`", grid, ", ".join(words),
                     bold(mean_std(best["metrics"]["rmse"]), i == 0),
                     mean_std(best["metrics"]["mae"]), seconds_per_run(best["seconds"]["mean"])])
    return table(["sweep", "grid", "best configuration", "test RMSE", "test MAE", "s/run"],
                 "lllrrr", rows)


RANKING_METRICS = [("precision@10", "precision@10"), ("recall@10", "recall@10"),
                   ("ndcg@10", "NDCG@10"), ("hit-rate@10", "hit rate@10"), ("map@10", "MAP@10"),
                   ("mrr", "MRR"), ("coverage@10", "coverage@10")]


def block_ranking(ctx):
    ctx.run("recommend", "experiments/recommend.toml")
    compare = ctx.compare("recommend", "recommend")
    rows = [[config["params"]["model.architecture"],
             *(f"{config['metrics'][m]['mean']:.4f}" for m, _ in RANKING_METRICS)]
            for config in compare["configurations"]]
    return table(["model", *(name for _, name in RANKING_METRICS)], "l" + "r" * 7, rows)


# Speed rows: label, bench setup name.
SPEED_ROWS = [
    ("dot-mf, 50 factors", "dot-mf"),
    ("biased-mf, 50 factors", "biased-mf"),
    ("funk-svd, 50 factors (SGD)", "funk-svd"),
    ("ncf [10] with dropout", "ncf"),
    ("ncf [10, 10]", "ncf-two-layer"),
    ("mlp [128, 32]", "mlp"),
    ("two-tower [256, 128, 32]", "two-tower"),
    ("svdpp, 64 factors (no notebook, no PyTorch figure)", "svdpp"),
]


def two_digits(x):
    """Two significant digits, as the speed table quotes seconds and ratings per second."""
    return f"{x:.2g}" if x < 0.1 else f"{x:.2f}".rstrip("0").rstrip(".") if x < 1 else f"{x:.2g}"


def block_speed(_ctx):
    cases = json.loads((ROOT / "docs/bench/bench.json").read_text())
    header = (ROOT / "docs/bench/bench.md").read_text()
    wall = re.search(r"Suite wall time: (\d+) s", header).group(1)
    machine = re.search(r"Machine: (.*?) \(\d+ cores", header).group(1).replace("(R)", "")
    simd = re.search(r"products with ([\w-]+)", header)
    machine += f" with {simd.group(1)}" if simd else ""
    date = subprocess.run(["git", "log", "-1", "--format=%cd", "--date=format:%-d %B %Y",
                           "--", "docs/bench/bench.json"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip() or "an uncommitted run"
    rows, noisy = [], []
    for label, setup in SPEED_ROWS:
        case = next(c for c in cases if c["case"]["data"] == "Ml100k" and c["case"]["setup"] == setup
                    and c["case"]["batch_size"] == 64 and not c["case"]["dense"])
        s = case["seconds_per_epoch"]
        ratio = PYTORCH_FASTEST_EPOCH / s
        versus = "" if setup == "svdpp" else (f"{ratio:.0f}×" if ratio >= 10 else f"{ratio:.1f}×")
        rows.append([label, two_digits(s), f"{case['ratings_per_second'] / 1e6:.2g} M", versus])
        if case["max_seconds"] > 1.25 * case["min_seconds"]:
            noisy.append(f"{setup} {case['min_seconds']:.3f}–{case['max_seconds']:.3f} s")
    note = f"(Suite run of {date} on an {machine}, {wall} s."
    if noisy:
        note += (" Cases whose epochs varied by more than a quarter, a sign of other work on the"
                 f" host: {', '.join(noisy)}.")
    note += ")"
    return table(["model (ML-100K, batch 64)", "s/epoch", "ratings/s",
                  f"vs PyTorch's fastest ({PYTORCH_FASTEST_EPOCH} s)"], "lrrr", rows) + "\n\n" + note


def block_peers(_ctx):
    """The last `scripts/bench-peers.sh` run, copied to docs/bench/peers.json."""
    peers = json.loads((ROOT / "docs/bench/peers.json").read_text())
    date = subprocess.run(["git", "log", "-1", "--format=%cd", "--date=format:%-d %B %Y",
                           "--", "docs/bench/peers.json"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip() or "an uncommitted run"
    rows = []
    for r in peers["results"]:
        rows.append([r["case"], r["peer_label"].split(" (")[0] + (" 2 threads" if "2 threads" in r["peer_label"] else ""),
                     f"{r['exp_seconds_per_epoch']:.4f}", f"{r['peer_seconds_per_epoch']:.4f}",
                     f"{r['speedup']:.2f}×" if r["speedup"] < 10 else f"{r['speedup']:.0f}×",
                     f"{r['exp_rmse']:.4f}", f"{r['peer_rmse']:.4f}"])
    note = (f"(Medians of {peers['repeats']} interleaved repeats, ML-100K 90/10 holdout rows of seed 42, run of {date}; speed-up = peer"
            " s/epoch ÷ exp s/epoch, > 1 when exp is faster. Full table: docs/bench/peers.md.)")
    return table(["case", "peer", "exp s/epoch", "peer s/epoch", "speed-up", "exp RMSE",
                  "peer RMSE"], "llrrrrr", rows) + "\n\n" + note


def block_sweep_time(ctx):
    median = sweep_seconds(ctx)
    today = time.strftime("%-d %B %Y")
    return f"The default 40-run sweep takes {median:.1f} s on 2 cores (median of 3, {today})."


BLOCKS = {
    "two-commands": block_two_commands,
    "sweep": block_sweep,
    "recommend": block_recommend,
    "foundation": block_foundation,
    "seeds": block_seeds,
    "engines": block_engines,
    "architectures": block_architectures,
    "tuned": block_tuned,
    "speed": block_speed,
    "peers": block_peers,
    "sweep-time": block_sweep_time,
    "ranking": block_ranking,
}

MARKER = re.compile(r"(<!-- numbers:([\w-]+) -->\n)(.*?)(\n<!-- /numbers:\2 -->)", re.S)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exp", default=str(ROOT / "target/release/exp"))
    parser.add_argument("--only", action="append", choices=sorted(BLOCKS), default=[])
    parser.add_argument("--list", action="store_true", help="list the blocks and exit")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on a change")
    args = parser.parse_args()
    if args.list:
        print("\n".join(BLOCKS))
        return 0

    text = README.read_text()
    found = [m.group(2) for m in MARKER.finditer(text)]
    missing = [name for name in BLOCKS if name not in found]
    unknown = [name for name in found if name not in BLOCKS]
    if missing or unknown:
        sys.exit(f"README.md markers: missing {missing}, unknown {unknown}")

    data_dir = Path(os.environ.get("EXP_DATA_DIR", ROOT.parent / "shared" / "data")).resolve()
    wanted = args.only or list(BLOCKS)
    with tempfile.TemporaryDirectory(prefix="readme-numbers-") as scratch:
        ctx = Context(args.exp, scratch, data_dir)
        generated = {}
        for name in wanted:
            print(f"{name}…", file=sys.stderr, flush=True)
            generated[name] = BLOCKS[name](ctx)

    new = MARKER.sub(lambda m: m.group(1) + generated.get(m.group(2), m.group(3)) + m.group(4), text)
    if new == text:
        print("README.md: no number changed", file=sys.stderr)
        return 0
    if args.check:
        print("README.md: numbers changed (run scripts/readme-numbers.sh)", file=sys.stderr)
        return 1
    README.write_text(new)
    print(f"README.md: rewrote {', '.join(wanted)}; review with git diff README.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
