//! What a `[search]` table declares, after validation: the strategy, the space and the
//! pruner. Built by `config::search` from the experiment file; read by the sampler, the
//! pruner and the reports.

use serde::{Deserialize, Serialize};

/// How trials are chosen (`search.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// The `[sweep]` grid, one trial per grid point in grid order (run keys unchanged);
    /// with a pruner, bad points stop early.
    Grid,
    /// Independent draws from the space, seeded.
    Random,
    /// Tree-structured Parzen estimator: random for the first startup trials, then each
    /// trial drawn where finished trials with good validation scores lie.
    Tpe,
}

impl Strategy {
    /// The name as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Grid => "grid",
            Strategy::Random => "random",
            Strategy::Tpe => "tpe",
        }
    }
}

/// The values one searched key may take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// `{ uniform = [a, b] }`: a float drawn uniformly from `[a, b]`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound, `> low`.
        high: f64,
    },
    /// `{ log_uniform = [a, b] }`: a float whose logarithm is uniform on `[ln a, ln b]`;
    /// `0 < a < b`.
    LogUniform {
        /// Lower bound, `> 0`.
        low: f64,
        /// Upper bound, `> low`.
        high: f64,
    },
    /// `{ int = [a, b], log = false, step = 1 }`: an integer in `[a, b]` (both included),
    /// on the grid `a, a + step, …`; with `log = true` drawn log-uniformly (`a >= 1`,
    /// `step` must be 1).
    Int {
        /// Lower bound.
        low: i64,
        /// Upper bound, `> low`.
        high: i64,
        /// Draw the logarithm uniformly.
        log: bool,
        /// Spacing of the values, `>= 1`.
        step: i64,
    },
    /// `{ choice = [v1, v2, …] }`: one of the listed TOML values (strings, numbers,
    /// lists such as `[64, 32]` for `model.hidden_layers`), each equally likely.
    Choice {
        /// The values, at least one, no two equal.
        values: Vec<toml::Value>,
    },
}

impl std::fmt::Display for Distribution {
    /// As written in the file, e.g. `log_uniform [0.0003, 0.03]`, `int [8, 128] log`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Distribution::Uniform { low, high } => write!(f, "uniform [{low}, {high}]"),
            Distribution::LogUniform { low, high } => write!(f, "log_uniform [{low}, {high}]"),
            Distribution::Int {
                low,
                high,
                log,
                step,
            } => {
                write!(f, "int [{low}, {high}]")?;
                if *step != 1 {
                    write!(f, " step {step}")?;
                }
                if *log {
                    write!(f, " log")?;
                }
                Ok(())
            }
            Distribution::Choice { values } => {
                let values: Vec<String> = values.iter().map(ToString::to_string).collect();
                write!(f, "choice [{}]", values.join(", "))
            }
        }
    }
}

/// `when = { "model.architecture" = ["ncf", "mlp"] }`: the key is searched only in
/// trials whose value of another searched key is one of these; elsewhere it keeps its
/// base value and the sampler does not learn from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// The searched key it depends on (a `choice`, declared before this key).
    pub key: String,
    /// The values of that key under which this key applies.
    pub values: Vec<toml::Value>,
}

/// One searched key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    /// The dotted key it sets, e.g. `training.learning_rate` (any key `[sweep]` may set).
    pub key: String,
    /// Its values.
    pub distribution: Distribution,
    /// When it applies; `None`: always.
    pub when: Option<Condition>,
}

/// Which pruner stops bad trials early (`search.pruner.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrunerKind {
    /// Every trial trains to the end.
    None,
    /// Asynchronous successive halving (Li et al. 2020), stopping form: at each rung
    /// epoch a run goes on only if its validation RMSE is in the best
    /// `1 / reduction_factor` of the runs that reached that rung so far.
    Asha,
    /// A run stops when its best validation RMSE so far is worse than the median of the
    /// other trials' values at the same epoch.
    Median,
    /// k-fold: after each fold, a trial's fold scores are compared with the best trial's
    /// on the same folds (Wilcoxon signed-rank, paired by fold); a significantly worse
    /// trial's remaining folds are not trained.
    Wilcoxon,
}

impl PrunerKind {
    /// The name as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            PrunerKind::None => "none",
            PrunerKind::Asha => "asha",
            PrunerKind::Median => "median",
            PrunerKind::Wilcoxon => "wilcoxon",
        }
    }
}

/// `[search.pruner]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrunerSpec {
    /// Which pruner.
    pub kind: PrunerKind,
    /// No run is stopped before this epoch (ASHA: the first rung). Default 1.
    pub min_epochs: usize,
    /// ASHA's η: each rung keeps the best `1 / reduction_factor`. Default 3, `>= 2`.
    pub reduction_factor: usize,
    /// ASHA: the last rung is at most this epoch; default `training.epochs`.
    pub max_epochs: usize,
    /// Median: trials that must have finished before any run is stopped. Default 5.
    pub startup_trials: usize,
    /// Wilcoxon: the one-sided p-value below which a trial is stopped. Default 0.1.
    pub p_threshold: f64,
}

/// A validated `[search]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchSpec {
    /// How trials are chosen.
    pub strategy: Strategy,
    /// How many trials the search runs (grid: the grid's points).
    pub trials: usize,
    /// Seeds the sampler; `experiment.seed` unless `search.seed` says otherwise.
    pub seed: u64,
    /// The searched keys in file order (empty for `grid`, whose values are `[sweep]`'s).
    pub space: Vec<Parameter>,
    /// TPE: trials drawn at random before TPE takes over. Default 10.
    pub startup_trials: usize,
    /// TPE: candidates drawn per key, the best by expected improvement kept. Default 24.
    pub candidates: usize,
    /// TPE: the fraction of finished trials counted as good. Default 0.1 (Optuna's).
    pub gamma: f64,
    /// The pruner.
    pub pruner: PrunerSpec,
}
