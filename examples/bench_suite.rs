//! The benchmark suite driver (`scripts/bench.sh`): every seed setup × batch size × data
//! set, each case in its own process, then a Markdown report, a JSON file and a chart in
//! the output folder.
//!
//! ```text
//! bench_suite [--data ml-100k,synthetic-1m] [--setups dot-mf,ncf] [--batches 64,1024]
//!             [--epochs N] [--out results/bench]
//! bench_suite --case DATA:SETUP:BATCH:EPOCHS[:dense]     (one case; prints one JSON line)
//! bench_suite --redraw-chart DIR                          (throughput.png from DIR/bench.json)
//! ```
//!
//! Cases run one at a time so they do not compete for cores. A case that fails (missing
//! data, a closed-form setup) is reported and the suite goes on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use exp::bench::{self, BenchData, Case, Measurement};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The seed setups the suite times, one per architecture (plus NCF's two-layer variant).
const SETUPS: [&str; 12] = [
    "dot-mf",
    "biased-mf",
    "funk-svd",
    "svdpp",
    "svdpp-by-user",
    "ncf",
    "ncf-two-layer",
    "mlp",
    "two-tower",
    "funk-svd-per-rating",
    "biased-mf-per-rating",
    "svdpp-per-rating",
];
/// Per-rating SGD setups (batch size 1): timed on their own cases, not at [`BATCHES`].
/// Funk SVD on ML-100K and the 1M set (one thread), both on the 10M set, one and two
/// threads, and SVD++ (one thread: its loop has no blocks) on ML-100K and the 10M set.
const PER_RATING: [(&str, BenchData, usize); 8] = [
    ("funk-svd-per-rating", BenchData::Ml100k, 1),
    ("funk-svd-per-rating", BenchData::Synthetic1m, 1),
    ("biased-mf-per-rating", BenchData::SyntheticLarge, 1),
    ("biased-mf-per-rating", BenchData::SyntheticLarge, 2),
    ("funk-svd-per-rating", BenchData::SyntheticLarge, 1),
    ("funk-svd-per-rating", BenchData::SyntheticLarge, 2),
    ("svdpp-per-rating", BenchData::Ml100k, 1),
    ("svdpp-per-rating", BenchData::SyntheticLarge, 1),
];
/// The setups with no PyTorch re-implementation to compare with (the classical SVD++
/// baseline is not one of the notebooks).
const NO_PYTORCH: [&str; 5] = [
    "svdpp",
    "svdpp-by-user",
    "funk-svd-per-rating",
    "biased-mf-per-rating",
    "svdpp-per-rating",
];
const BATCHES: [usize; 3] = [64, 256, 1024];
/// The PyTorch re-implementations of the seed models on this machine: 0.66–1.17 s per
/// epoch on ML-100K at batch 64. The check uses the fastest, 0.66 s.
const PYTORCH_ML100K_B64_SECONDS: f64 = 0.66;

fn main() -> anyhow::Result<()> {
    exp::alloc::keep_freed_pages();
    // One compute thread per run, as in `exp run`.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/seeds");
    if let [flag, case] = args.as_slice()
        && flag == "--case"
    {
        let case = Case::from_arg(case)?;
        let m = bench::run_case(&case, &seeds)?;
        println!("{}", serde_json::to_string(&m)?);
        return Ok(());
    }
    if let [flag, dir] = args.as_slice()
        && flag == "--redraw-chart"
    {
        return redraw_chart(Path::new(dir));
    }
    let options = Options::parse(&args)?;
    suite(&options)
}

/// What the suite runs and where it writes.
struct Options {
    data: Vec<BenchData>,
    setups: Vec<String>,
    batches: Vec<usize>,
    epochs: Option<usize>,
    out: PathBuf,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Options> {
        let mut o = Options {
            data: BenchData::ALL.to_vec(),
            setups: SETUPS.map(String::from).to_vec(),
            batches: BATCHES.to_vec(),
            epochs: None,
            out: PathBuf::from("results/bench"),
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it
                .next()
                .with_context(|| format!("`{flag}` needs a value"))?;
            let list = || value.split(',').map(str::trim).filter(|s| !s.is_empty());
            match flag.as_str() {
                "--data" => {
                    o.data = list()
                        .map(|d| {
                            BenchData::from_name(d).with_context(|| {
                                format!(
                                    "unknown data set `{d}`; expected one of {}",
                                    BenchData::ALL.map(BenchData::name).join(", ")
                                )
                            })
                        })
                        .collect::<anyhow::Result<_>>()?
                }
                "--setups" => o.setups = list().map(String::from).collect(),
                "--batches" => {
                    o.batches = list()
                        .map(|b| b.parse().with_context(|| format!("bad batch size `{b}`")))
                        .collect::<anyhow::Result<_>>()?
                }
                "--epochs" => o.epochs = Some(value.parse().context("bad --epochs")?),
                "--out" => o.out = PathBuf::from(value),
                other => bail!(
                    "unknown option `{other}`; expected --data, --setups, --batches, --epochs, --out or --case"
                ),
            }
        }
        Ok(o)
    }

    /// Every case: speed cases first, then the dense references on ML-100K at batch 64.
    fn cases(&self) -> Vec<Case> {
        let mut cases = Vec::new();
        for &data in &self.data {
            for setup in &self.setups {
                if setup == "two-tower" && !data.has_item_features() {
                    continue;
                }
                // SVD++ reads every implicit row its batch's users name, O(Σ|N(u)| · k) per
                // step: on the Zipf-skewed 10M-rating set an epoch in the shuffled order
                // takes over a minute (81 s at batch 1024), which would double the suite's
                // running time; `svdpp-by-user` times SVD++ on that set.
                if setup == "svdpp" && data == BenchData::SyntheticLarge {
                    continue;
                }
                if PER_RATING.iter().any(|(s, ..)| s == setup) {
                    continue;
                }
                for &batch_size in &self.batches {
                    cases.push(Case {
                        data,
                        setup: setup.clone(),
                        batch_size,
                        epochs: self.epochs.unwrap_or(data.default_epochs()),
                        dense: false,
                        graph: false,
                        threads: 1,
                    });
                }
            }
        }
        for (setup, data, threads) in PER_RATING {
            if self.data.contains(&data) && self.setups.iter().any(|s| s == setup) {
                cases.push(Case {
                    data,
                    setup: setup.to_string(),
                    batch_size: 1,
                    epochs: self.epochs.unwrap_or(data.default_epochs()),
                    dense: false,
                    graph: false,
                    threads,
                });
            }
        }
        if self.data.contains(&BenchData::Ml100k) && self.batches.contains(&64) {
            for setup in &self.setups {
                if PER_RATING.iter().any(|(s, ..)| s == setup) {
                    continue;
                }
                cases.push(Case {
                    data: BenchData::Ml100k,
                    setup: setup.clone(),
                    batch_size: 64,
                    epochs: self.epochs.unwrap_or(BenchData::Ml100k.default_epochs()),
                    dense: true,
                    graph: false,
                    threads: 1,
                });
            }
        }
        cases
    }
}

fn suite(o: &Options) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locating this program")?;
    let cases = o.cases();
    let started = Instant::now();
    let mut measured: Vec<Measurement> = Vec::new();
    let mut failed: Vec<(Case, String)> = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        eprint!("[{}/{}] {} … ", i + 1, cases.len(), case.to_arg());
        let output = Command::new(&exe)
            .args(["--case", &case.to_arg()])
            .output()
            .with_context(|| format!("starting {}", exe.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        match serde_json::from_str::<Measurement>(stdout.trim()) {
            Ok(m) if output.status.success() => {
                eprintln!(
                    "{:.4} s/epoch, RMSE {:.4}, {:.0} MiB",
                    m.seconds_per_epoch,
                    m.test_rmse,
                    m.peak_rss_bytes.unwrap_or(0) as f64 / 1048576.0
                );
                measured.push(m);
            }
            _ => {
                let stderr = String::from_utf8_lossy(&output.stderr);
                let why = stderr.lines().last().unwrap_or("no output").to_string();
                eprintln!("failed: {why}");
                failed.push((case.clone(), why));
            }
        }
    }
    std::fs::create_dir_all(&o.out).with_context(|| format!("creating {}", o.out.display()))?;
    let report = report(&measured, &failed, started.elapsed().as_secs_f64());
    let md = o.out.join("bench.md");
    std::fs::write(&md, &report).with_context(|| format!("writing {}", md.display()))?;
    let json = o.out.join("bench.json");
    std::fs::write(&json, serde_json::to_string_pretty(&measured)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let png = o.out.join("throughput.png");
    bench::chart::draw(&bench::chart::panels(&measured), &png)?;
    println!("{report}");
    eprintln!(
        "wrote {}, {} and {}",
        md.display(),
        json.display(),
        png.display()
    );
    Ok(())
}

/// Draws `dir/throughput.png` again from `dir/bench.json` (after a change to the chart).
fn redraw_chart(dir: &Path) -> anyhow::Result<()> {
    let json = dir.join("bench.json");
    let text =
        std::fs::read_to_string(&json).with_context(|| format!("reading {}", json.display()))?;
    let measured: Vec<Measurement> =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", json.display()))?;
    let png = dir.join("throughput.png");
    bench::chart::draw(&bench::chart::panels(&measured), &png)?;
    eprintln!("wrote {}", png.display());
    Ok(())
}

/// The Markdown report: machine, table, accuracy against the dense reference, and the
/// performance targets with pass/fail.
fn report(measured: &[Measurement], failed: &[(Case, String)], seconds: f64) -> String {
    let mut out = String::from("# Benchmark suite\n\n");
    out.push_str(&format!(
        "Machine: {} ({} cores visible; dense-layer products with {}). One case at a time, one compute thread per case; \
         seconds per epoch are medians over the epochs' training batches (evaluation \
         excluded); peak RSS is the case's whole process. Two-tower runs only where items \
         have genres and years; SVD++ (O(Σ|N(u)| · k) per step) skips the 10M-rating set, \
         where an epoch takes over a minute. Suite wall time: {seconds:.0} s.\n\n",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        exp::engine::gemm::kernel_name()
    ));
    let speed: Vec<Measurement> = measured.iter().filter(|m| !m.case.dense).cloned().collect();
    out.push_str("## Speed\n\n![throughput](throughput.png)\n\n");
    out.push_str(&bench::markdown(&speed));
    if !failed.is_empty() {
        out.push_str("\nNot run:\n\n");
        for (case, why) in failed {
            out.push_str(&format!("- `{}`: {why}\n", case.to_arg()));
        }
    }
    out.push_str(&accuracy(measured));
    out.push_str(&targets(measured));
    out
}

/// Lazy against dense updates on ML-100K at batch 64: test RMSE after the same epochs.
fn accuracy(measured: &[Measurement]) -> String {
    let mut out = String::from(
        "\n## Accuracy: lazy against dense embedding updates (ML-100K, 90/10 holdout, seed 42, batch 64)\n\n\
         | setup | epochs | lazy RMSE | dense RMSE | difference | lazy s/epoch | dense s/epoch |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for dense in measured.iter().filter(|m| m.case.dense) {
        let lazy = measured.iter().find(|m| {
            !m.case.dense
                && m.case.data == dense.case.data
                && m.case.setup == dense.case.setup
                && m.case.batch_size == dense.case.batch_size
                && m.case.epochs == dense.case.epochs
        });
        if let Some(lazy) = lazy {
            out.push_str(&format!(
                "| {} | {} | {:.4} | {:.4} | {:+.4} | {:.4} | {:.4} |\n",
                dense.case.setup,
                dense.case.epochs,
                lazy.test_rmse,
                dense.test_rmse,
                lazy.test_rmse - dense.test_rmse,
                lazy.seconds_per_epoch,
                dense.seconds_per_epoch
            ));
        }
    }
    out
}

/// The suite's performance targets, each with its measured value and a verdict.
fn targets(measured: &[Measurement]) -> String {
    let find = |data: BenchData, setup: &str, batch: usize| {
        measured.iter().find(|m| {
            !m.case.dense
                && m.case.data == data
                && m.case.setup == setup
                && m.case.batch_size == batch
        })
    };
    let mut rows = Vec::new();
    let mut check = |what: String, value: Option<f64>, limit: f64, unit: &str| {
        let (shown, verdict) = match value {
            Some(v) => (
                format!("{v:.3}{unit}"),
                if v <= limit { "met" } else { "NOT met" },
            ),
            None => ("not measured".to_string(), "–"),
        };
        rows.push(format!(
            "| {what} | ≤ {limit}{unit} | {shown} | {verdict} |"
        ));
    };
    let spe = |m: Option<&Measurement>| m.map(|m| m.seconds_per_epoch);
    check(
        "biased-mf (k = 50), synthetic-1m, batch 64".into(),
        spe(find(BenchData::Synthetic1m, "biased-mf", 64)),
        0.30,
        " s/epoch",
    );
    check(
        "biased-mf (k = 50), synthetic-1m, batch 1024".into(),
        spe(find(BenchData::Synthetic1m, "biased-mf", 1024)),
        0.15,
        " s/epoch",
    );
    check(
        "ncf (hidden [10]), synthetic-1m, batch 64".into(),
        spe(find(BenchData::Synthetic1m, "ncf", 64)),
        0.7,
        " s/epoch",
    );
    let per_million = |m: &Measurement| 1e6 / m.ratings_per_second;
    for batch in BATCHES {
        let ratio = find(BenchData::SyntheticLarge, "biased-mf", batch)
            .zip(find(BenchData::Synthetic1m, "biased-mf", batch))
            .map(|(large, small)| per_million(large) / per_million(small));
        check(
            format!("biased-mf s per M ratings, synthetic-large / synthetic-1m, batch {batch}"),
            ratio,
            1.5,
            "×",
        );
    }
    let large_peak = measured
        .iter()
        .filter(|m| m.case.data == BenchData::SyntheticLarge && m.case.setup == "biased-mf")
        .filter_map(|m| m.peak_rss_bytes)
        .max();
    check(
        "biased-mf peak memory, synthetic-large".into(),
        large_peak.map(|b| b as f64 / (1u64 << 30) as f64),
        3.0,
        " GiB",
    );
    for setup in SETUPS.iter().filter(|s| !NO_PYTORCH.contains(s)) {
        check(
            format!("{setup}, ml-100k, batch 64 (10× faster than PyTorch's fastest 0.66 s)"),
            spe(find(BenchData::Ml100k, setup, 64)),
            PYTORCH_ML100K_B64_SECONDS / 10.0,
            " s/epoch",
        );
    }
    format!(
        "\n## Targets\n\n| target | limit | measured | verdict |\n|---|---:|---:|---|\n{}\n",
        rows.join("\n")
    )
}

/// The CPU model from `/proc/cpuinfo`, or `unknown CPU`.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}
