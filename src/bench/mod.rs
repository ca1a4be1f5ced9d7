//! The benchmark suite: seconds per epoch, ratings per second, peak memory and test RMSE of
//! every architecture × batch size × data set, measured the same way every time.
//!
//! A [`Case`] is one architecture (its seed notebook setup from `experiments/seeds/`) at
//! one batch size on one [`BenchData`] set. [`run_case`] trains it for a fixed number of
//! epochs and returns a [`Measurement`]: the median over epochs of the seconds spent on
//! training batches alone (evaluation excluded), ratings per second at that median, the
//! test RMSE after the last epoch, and the process's peak resident memory. The driver
//! (`examples/bench_suite.rs`) runs every case in a fresh process so that peak memory
//! belongs to that case alone, then writes [`markdown`] and [`chart`] to `results/bench/`.
//!
//! With [`TableUpdates::Dense`] a case trains with dense optimiser updates of the
//! embedding tables (what PyTorch and Keras do): the reference the lazy updates are
//! checked against for accuracy.

pub mod chart;

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::config::{self, ConfigError};
use crate::data::synthetic::{self, SyntheticError, SyntheticSpec};
use crate::data::{self, DataError, Dataset};
use crate::engine::optim::TableUpdates;
use crate::models;
use crate::report::stats::median;
use crate::runner::{model_context, split_for};
use crate::sweep::{self, RunSpec};
use crate::train::{self, TrainData, TrainError};

/// The data sets of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BenchData {
    /// ml-latest-small, embedded in the binary (100,836 ratings, 610 × 9,724).
    MlLatestSmall,
    /// MovieLens 100K from `EXP_DATA_DIR` (100,000 ratings, 943 × 1,682).
    Ml100k,
    /// [`SyntheticSpec::ML_1M_SHAPE`]: 1M ratings, 6,040 × 3,706.
    Synthetic1m,
    /// [`SyntheticSpec::LARGE_CATALOGUE`]: 10M ratings, 1M users × 200K items.
    SyntheticLarge,
}

impl BenchData {
    /// Every set, smallest first.
    pub const ALL: [BenchData; 4] = [
        BenchData::MlLatestSmall,
        BenchData::Ml100k,
        BenchData::Synthetic1m,
        BenchData::SyntheticLarge,
    ];

    /// The name used on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            BenchData::MlLatestSmall => "ml-latest-small",
            BenchData::Ml100k => "ml-100k",
            BenchData::Synthetic1m => "synthetic-1m",
            BenchData::SyntheticLarge => "synthetic-large",
        }
    }

    /// The set called `name`, if any.
    pub fn from_name(name: &str) -> Option<BenchData> {
        BenchData::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Epochs per case: enough for a median on the small sets, few on the big ones. At
    /// least three everywhere, so that the median is a steady-state epoch: the first one
    /// also pays one-time costs (on the 10M-rating set, faulting in about 0.5 GB of fresh
    /// optimiser state took 0.8 s more than the later epochs).
    pub fn default_epochs(self) -> usize {
        match self {
            BenchData::MlLatestSmall | BenchData::Ml100k => 5,
            BenchData::Synthetic1m | BenchData::SyntheticLarge => 3,
        }
    }

    /// Whether the set has the genres and release years the content model needs.
    pub fn has_item_features(self) -> bool {
        matches!(self, BenchData::MlLatestSmall | BenchData::Ml100k)
    }

    /// Loads or generates the set; MovieLens 100K comes from `$EXP_DATA_DIR/ml-100k`.
    pub fn load(self) -> Result<Dataset, BenchError> {
        let spec = config::spec::DataSpec::new;
        Ok(match self {
            BenchData::MlLatestSmall => {
                data::load(&spec(config::spec::DatasetName::MlLatestSmall))?
            }
            BenchData::Ml100k => data::load(&spec(config::spec::DatasetName::Ml100k))?,
            BenchData::Synthetic1m => synthetic::generate(&SyntheticSpec::ML_1M_SHAPE)?,
            BenchData::SyntheticLarge => synthetic::generate(&SyntheticSpec::LARGE_CATALOGUE)?,
        })
    }
}

/// One benchmark case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// The data set.
    pub data: BenchData,
    /// Seed setup name: `experiments/seeds/<setup>.toml` gives the model and optimiser.
    pub setup: String,
    /// Ratings per batch (overrides the setup's).
    pub batch_size: usize,
    /// Epochs to train (overrides the setup's).
    pub epochs: usize,
    /// Lazy (the default) or dense embedding-table updates.
    pub dense: bool,
    /// Train on the graph engine (candle's operations and autograd) instead of the
    /// default, the fused CPU kernels.
    #[serde(default)]
    pub graph: bool,
    /// `training.threads` (per-rating setups only); 1 unless the case says `:threadsN`.
    #[serde(default = "one_thread")]
    pub threads: usize,
}

fn one_thread() -> usize {
    1
}

impl Case {
    /// `data:setup:batch:epochs[:dense][:graph][:threadsN]`, the form the driver passes
    /// to a child process.
    pub fn to_arg(&self) -> String {
        let dense = if self.dense { ":dense" } else { "" };
        let graph = if self.graph { ":graph" } else { "" };
        let threads = if self.threads > 1 {
            format!(":threads{}", self.threads)
        } else {
            String::new()
        };
        format!(
            "{}:{}:{}:{}{dense}{graph}{threads}",
            self.data.name(),
            self.setup,
            self.batch_size,
            self.epochs
        )
    }

    /// Parses [`Case::to_arg`]'s form.
    pub fn from_arg(arg: &str) -> Result<Case, BenchError> {
        let bad = || BenchError::BadCase(arg.to_string());
        let parts: Vec<&str> = arg.split(':').collect();
        let (data, setup, batch, epochs, flags) = match parts.as_slice() {
            [d, s, b, e, flags @ ..] => (d, s, b, e, flags),
            _ => return Err(bad()),
        };
        let threads_flag = |f: &&str| {
            f.strip_prefix("threads")
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n > 0)
        };
        if flags
            .iter()
            .any(|f| !["dense", "graph"].contains(f) && threads_flag(f).is_none())
        {
            return Err(bad());
        }
        Ok(Case {
            data: BenchData::from_name(data).ok_or_else(bad)?,
            setup: setup.to_string(),
            batch_size: batch.parse().ok().filter(|&b| b > 0).ok_or_else(bad)?,
            epochs: epochs.parse().ok().filter(|&e| e > 0).ok_or_else(bad)?,
            dense: flags.contains(&"dense"),
            graph: flags.contains(&"graph"),
            threads: flags.iter().find_map(threads_flag).unwrap_or(1),
        })
    }
}

/// What one case measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// The case.
    pub case: Case,
    /// The model's architecture name (from the setup).
    pub architecture: String,
    /// Training ratings per epoch.
    pub train_ratings: usize,
    /// Median seconds per epoch over the training batches (evaluation excluded).
    pub seconds_per_epoch: f64,
    /// Fastest epoch.
    pub min_seconds: f64,
    /// Slowest epoch.
    pub max_seconds: f64,
    /// `train_ratings / seconds_per_epoch`.
    pub ratings_per_second: f64,
    /// Seconds to evaluate the test split once (median over epochs).
    pub eval_seconds: f64,
    /// Test RMSE after the last epoch.
    pub test_rmse: f64,
    /// Seconds to load or generate the data set.
    pub load_seconds: f64,
    /// Peak resident memory of the process (bytes), where the OS reports it.
    pub peak_rss_bytes: Option<u64>,
}

/// Why a case could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A case argument that is not `data:setup:batch:epochs[:dense][:graph][:threadsN]`.
    #[error(
        "bad case `{0}`: expected DATA:SETUP:BATCH:EPOCHS[:dense][:graph][:threadsN], DATA one of \
         ml-latest-small, ml-100k, synthetic-1m, synthetic-large"
    )]
    BadCase(String),
    /// The setup file is missing or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The setup file defines no run.
    #[error("{0}: the experiment defines no run")]
    NoRun(PathBuf),
    /// The data set could not be loaded.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The synthetic data set could not be generated.
    #[error(transparent)]
    Synthetic(#[from] SyntheticError),
    /// The setup's split could not be made.
    #[error(transparent)]
    Split(#[from] crate::data::split::SplitError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The setup asks for an engine this device cannot run.
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    /// A candle operation failed outside training.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// The setup is a closed-form baseline: there are no epochs to time.
    #[error("setup `{0}` is fitted in closed form; it has no training epochs to time")]
    ClosedForm(String),
}

/// The first run of `seeds_dir/<setup>.toml`, with the case's batch size and epochs.
pub fn setup_run(case: &Case, seeds_dir: &Path) -> Result<RunSpec, BenchError> {
    let file = seeds_dir.join(format!("{}.toml", case.setup));
    let experiment = config::load_experiment(&file)?;
    let mut run = sweep::runs(&experiment)?
        .into_iter()
        .next()
        .ok_or(BenchError::NoRun(file))?;
    run.config.training.batch_size = case.batch_size;
    run.config.training.epochs = case.epochs;
    // Early stopping would make epoch counts differ between cases.
    run.config.training.early_stopping = None;
    if case.graph {
        run.config.training.engine = crate::config::spec::EngineChoice::Graph;
    }
    run.config.training.threads = case.threads;
    Ok(run)
}

/// Trains `case` and measures it. `seeds_dir` holds the setup files.
pub fn run_case(case: &Case, seeds_dir: &Path) -> Result<Measurement, BenchError> {
    let run = setup_run(case, seeds_dir)?;
    let started = Instant::now();
    let data = case.data.load()?;
    let load_seconds = started.elapsed().as_secs_f64();
    measure(case, &run, &data, load_seconds)
}

/// Trains `run` (a setup's run with `case`'s batch size and epochs, possibly edited
/// further) on `data`, `case.data` loaded in `load_seconds`, and measures it.
pub fn measure(
    case: &Case,
    run: &RunSpec,
    data: &Dataset,
    load_seconds: f64,
) -> Result<Measurement, BenchError> {
    let split = split_for(run, data)?;
    let device = candle_core::Device::Cpu;
    let ctx = model_context(run, data, &split.train, &device)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(run.seed);
    let model = models::build(&run.config.model, &ctx, &mut rng)?;
    if model.fit_closed_form(&data.ratings, &split.train).is_some() {
        return Err(BenchError::ClosedForm(case.setup.clone()));
    }
    let mut optimizer = train::optimizer(&run.config.training, model.params())?;
    if case.dense {
        optimizer.set_table_updates(TableUpdates::Dense);
    }
    let train_data = TrainData {
        ratings: &data.ratings,
        train: &split.train,
        validation: &split.validation,
        test: &split.test,
        rating_range: data.rating_range,
    };
    let trained = train::train(
        model.as_ref(),
        optimizer.as_mut(),
        &run.config.training,
        train_data,
        &mut rng,
        &std::sync::atomic::AtomicBool::new(false),
        |_| train::EpochControl::Continue,
    )?;
    let times: Vec<f64> = trained.epochs.iter().map(|e| e.train_seconds).collect();
    let evals: Vec<f64> = trained
        .epochs
        .iter()
        .map(|e| e.seconds - e.train_seconds)
        .collect();
    let seconds_per_epoch = median(&times).unwrap_or(f64::NAN);
    Ok(Measurement {
        case: case.clone(),
        architecture: run.config.model.architecture.as_str().to_string(),
        train_ratings: split.train.len(),
        seconds_per_epoch,
        min_seconds: times.iter().copied().fold(f64::INFINITY, f64::min),
        max_seconds: times.iter().copied().fold(0.0, f64::max),
        ratings_per_second: split.train.len() as f64 / seconds_per_epoch.max(1e-12),
        eval_seconds: median(&evals).unwrap_or(f64::NAN),
        test_rmse: trained.epochs.last().map_or(f64::NAN, |e| e.test.rmse),
        load_seconds,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

/// This process's peak resident set size (`VmHWM` in `/proc/self/status`; Linux only).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

/// The `VmHWM:` line of a `/proc/<pid>/status` text, in bytes.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A Markdown table of `measurements`, one row each, in the order given.
pub fn markdown(measurements: &[Measurement]) -> String {
    let mut out = String::from(
        "| data set | setup | architecture | batch | updates | epochs | s/epoch (median) | min | max | ratings/s | s/M ratings | eval s | test RMSE | peak RSS (MiB) |\n\
         |---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in measurements {
        let rss = m.peak_rss_bytes.map_or("n/a".to_string(), |b| {
            format!("{:.0}", b as f64 / 1048576.0)
        });
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.4} | {:.4} | {:.4} | {:.0} | {:.3} | {:.3} | {:.4} | {rss} |\n",
            m.case.data.name(),
            m.case.setup,
            m.architecture,
            match m.case.threads {
                1 => m.case.batch_size.to_string(),
                n => format!("{} ({n} threads)", m.case.batch_size),
            },
            if m.case.dense { "dense" } else { "lazy" },
            m.case.epochs,
            m.seconds_per_epoch,
            m.min_seconds,
            m.max_seconds,
            m.ratings_per_second,
            1e6 / m.ratings_per_second,
            m.eval_seconds,
            m.test_rmse,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_arguments_round_trip() {
        let case = Case {
            data: BenchData::Synthetic1m,
            setup: "biased-mf".to_string(),
            batch_size: 1024,
            epochs: 3,
            dense: false,
            graph: false,
            threads: 1,
        };
        assert_eq!(case.to_arg(), "synthetic-1m:biased-mf:1024:3");
        assert_eq!(Case::from_arg(&case.to_arg()).expect("parse"), case);
        let dense = Case {
            dense: true,
            ..case
        };
        assert_eq!(Case::from_arg(&dense.to_arg()).expect("parse"), dense);
        let threads = Case {
            setup: "funk-svd-per-rating".to_string(),
            batch_size: 1,
            threads: 2,
            ..dense.clone()
        };
        assert_eq!(
            threads.to_arg(),
            "synthetic-1m:funk-svd-per-rating:1:3:dense:threads2"
        );
        assert_eq!(Case::from_arg(&threads.to_arg()).expect("parse"), threads);
        for bad in [
            "",
            "ml-100k:dot-mf:64",
            "ml-1m:dot-mf:64:3",
            "ml-100k:dot-mf:0:3",
            "ml-100k:dot-mf:64:3:sparse",
            "ml-100k:dot-mf:1:3:threads0",
            "ml-100k:dot-mf:1:3:threads",
        ] {
            assert!(Case::from_arg(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn peak_memory_comes_from_vm_hwm() {
        let status = "Name:\texp\nVmPeak:\t  900 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 1024 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(2048 * 1024));
        assert_eq!(parse_vm_hwm("Name:\texp\n"), None);
    }

    #[test]
    fn a_tiny_case_trains_and_reports_sane_numbers() {
        let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/seeds");
        let case = Case {
            data: BenchData::MlLatestSmall,
            setup: "dot-mf".to_string(),
            batch_size: 1024,
            epochs: 2,
            dense: false,
            graph: false,
            threads: 1,
        };
        let m = run_case(&case, &seeds).expect("case runs");
        assert_eq!(m.architecture, "dot-mf");
        assert!(m.train_ratings > 80_000, "{}", m.train_ratings);
        assert!(m.seconds_per_epoch > 0.0 && m.ratings_per_second > 0.0);
        assert!(m.min_seconds <= m.seconds_per_epoch && m.seconds_per_epoch <= m.max_seconds);
        assert!(
            m.test_rmse.is_finite() && m.test_rmse < 4.0,
            "{}",
            m.test_rmse
        );
        let table = markdown(&[m]);
        assert_eq!(table.lines().count(), 3);
        assert!(table.contains("| ml-latest-small | dot-mf | dot-mf | 1024 | lazy | 2 |"));
    }
}
