//! The rows exp writes and reads: runs and their epochs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where a run stands. Stored as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Claimed by a worker and training now (or the process died while it was).
    Running,
    /// Trained and scored; metrics are set.
    Finished,
    /// Stopped by an error (divergence, bad data, …); `error` says why.
    Failed,
    /// Stopped on request (Ctrl-C, SIGTERM) before it finished; the next `exp run`
    /// trains it again.
    Interrupted,
    /// Stopped early by a search's pruner (its validation score was among the worse);
    /// its epochs are kept and it is not trained again.
    Pruned,
}

impl RunStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Pruned => "pruned",
        }
    }

    /// The status with this stored name, if any (the inverse of [`RunStatus::as_str`]).
    pub fn from_name(name: &str) -> Option<RunStatus> {
        match name {
            "running" => Some(RunStatus::Running),
            "finished" => Some(RunStatus::Finished),
            "failed" => Some(RunStatus::Failed),
            "interrupted" => Some(RunStatus::Interrupted),
            "pruned" => Some(RunStatus::Pruned),
            _ => None,
        }
    }
}

/// What identifies a run before it trains: enough to claim it and to resume.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    /// Stable hash of the resolved configuration, seed and fold.
    pub key: String,
    /// The swept parameters of this grid point as a JSON object, e.g.
    /// `{"model.architecture":"dot-mf","model.embedding_size":8}` (`{}` when nothing is swept).
    pub params_json: String,
    /// The whole resolved configuration as JSON.
    pub config_json: String,
    /// Fold number, 0-based (always 0 for holdout).
    pub fold: usize,
    /// Repeat number, 0-based (`experiment.repeats`; 0 without repeats).
    pub repeat: usize,
    /// The search trial it belongs to; `None` for a grid run.
    pub trial: Option<usize>,
}

/// What a run was made from, recorded when it is claimed so that it can be rebuilt
/// exactly later (`exp recommend`, `exp similar`) whatever happens to its experiment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The experiment's seed the run trained with.
    pub seed: u64,
    /// SHA-256 (hex) of the run's data set as loaded and filtered
    /// ([`crate::data::fingerprint`]).
    pub data_sha256: String,
    /// The version of exp that trained it.
    pub exp_version: String,
}

impl Provenance {
    /// The run's provenance under this build of exp.
    pub fn new(seed: u64, data_sha256: String) -> Self {
        Provenance {
            seed,
            data_sha256,
            exp_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// A finished run's saved weights: the file and its SHA-256, checked before the weights
/// are used again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Where the file was written.
    pub path: String,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
}

/// One trained epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's minibatches.
    pub train_loss: f64,
    /// RMSE on the test split after this epoch.
    pub rmse: f64,
    /// MAE on the test split after this epoch.
    pub mae: f64,
    /// Wall-clock seconds of the epoch (training and evaluation).
    pub seconds: f64,
    /// Seconds of the epoch's training steps alone, without the evaluation (what
    /// benchmarks compare); `None` for epochs stored before it was recorded.
    pub train_seconds: Option<f64>,
    /// RMSE on the validation split after this epoch (runs with a validation split).
    pub validation_rmse: Option<f64>,
    /// MAE on the validation split after this epoch (runs with a validation split).
    pub validation_mae: Option<f64>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// Training finished; the run's reported metrics.
    Finished {
        /// Test RMSE of the reported epoch.
        rmse: f64,
        /// Test MAE of the reported epoch.
        mae: f64,
        /// The 1-based epoch the metrics come from.
        best_epoch: usize,
        /// Wall-clock seconds of the whole run.
        seconds: f64,
        /// Where the reported epoch's weights were saved (safetensors) and their hash,
        /// if they were.
        checkpoint: Option<Checkpoint>,
        /// The engine that computed the training steps (`fused`, `graph`); `None` for a
        /// closed-form fit.
        engine: Option<String>,
        /// Further named metrics of the reported epoch (e.g. `ndcg@10`), stored in
        /// `run_metrics`; RMSE and MAE have their own columns and are not repeated here.
        metrics: Vec<(String, f64)>,
    },
    /// Training stopped with an error.
    Failed {
        /// Human-readable cause, e.g. `loss became NaN at epoch 3`.
        error: String,
        /// Wall-clock seconds until the failure.
        seconds: f64,
    },
    /// A search's pruner stopped it after an epoch; its epochs stay stored.
    Pruned {
        /// Why, e.g. `pruned at epoch 3 by asha: validation RMSE 0.9712 not in the best 1/3
        /// of 7 runs at that rung`.
        reason: String,
        /// The last epoch it trained.
        epoch: usize,
        /// Wall-clock seconds until it stopped.
        seconds: f64,
    },
    /// Training was stopped on request before it finished.
    Interrupted {
        /// What stopped it, e.g. `interrupted during epoch 3`.
        reason: String,
        /// Wall-clock seconds until it stopped.
        seconds: f64,
    },
}

/// What [`Store::claim_run`](super::Store::claim_run) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The run is this process's to train now: its row id.
    Claimed(i64),
    /// The run is finished (by an earlier sweep, or by a concurrent one during this one).
    Finished,
    /// Another live process is training it.
    Busy {
        /// That process's host.
        host: String,
        /// Its pid.
        pid: u32,
    },
    /// It failed or was interrupted in a concurrent process after this sweep began; it is
    /// left for the next `exp run` rather than retried at once.
    EndedElsewhere(RunStatus),
}

/// Run counts of one experiment by status, for `exp status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCounts {
    /// The experiment's name.
    pub experiment: String,
    /// Runs in the database (claimed at least once).
    pub total: usize,
    /// Finished runs.
    pub finished: usize,
    /// Runs marked running (being trained, or left by a process that died).
    pub running: usize,
    /// Failed runs.
    pub failed: usize,
    /// Interrupted runs.
    pub interrupted: usize,
    /// Runs a search's pruner stopped early.
    pub pruned: usize,
    /// The lowest and highest run id (`exp runs` lists each), `None` without runs.
    pub ids: Option<(i64, i64)>,
}

/// A run as read back from the database.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    /// Row id.
    pub id: i64,
    /// Name of the experiment it belongs to.
    pub experiment: String,
    /// See [`NewRun::key`].
    pub key: String,
    /// See [`NewRun::params_json`].
    pub params_json: String,
    /// See [`NewRun::config_json`].
    pub config_json: String,
    /// Fold number, 0-based.
    pub fold: usize,
    /// Repeat number, 0-based (0 for runs stored before repeats existed).
    pub repeat: usize,
    /// Current status.
    pub status: RunStatus,
    /// Test RMSE (finished runs).
    pub rmse: Option<f64>,
    /// Test MAE (finished runs).
    pub mae: Option<f64>,
    /// Epoch the metrics come from (finished runs).
    pub best_epoch: Option<usize>,
    /// Wall-clock seconds (finished and failed runs).
    pub seconds: Option<f64>,
    /// Why it failed (failed runs).
    pub error: Option<String>,
    /// Path of the saved weights of the reported epoch (finished runs that saved them).
    pub checkpoint: Option<String>,
    /// SHA-256 of the checkpoint file when it was written (`None` for runs stored before
    /// hashes were recorded).
    pub checkpoint_sha256: Option<String>,
    /// The seed the run trained with (`None` for runs stored before seeds were recorded:
    /// it is then recovered from the experiment file).
    pub seed: Option<u64>,
    /// SHA-256 of the data set the run trained on, as loaded (see [`Provenance`]).
    pub data_sha256: Option<String>,
    /// The version of exp that trained the run.
    pub exp_version: Option<String>,
    /// Named metrics beyond RMSE and MAE (finished runs), e.g. `ndcg@10`.
    pub metrics: BTreeMap<String, f64>,
}

impl StoredRun {
    /// Test support: a finished run of grid point `params_json` on `fold` with test RMSE
    /// `rmse`, MAE `0.8 · rmse`, 1 s and best epoch 1 (override fields with `..`).
    #[cfg(test)]
    pub(crate) fn finished_for_test(id: i64, params_json: &str, fold: usize, rmse: f64) -> Self {
        StoredRun {
            id,
            experiment: "e".into(),
            key: format!("k{id}"),
            params_json: params_json.into(),
            config_json: "{}".into(),
            fold,
            repeat: 0,
            status: RunStatus::Finished,
            rmse: Some(rmse),
            mae: Some(rmse * 0.8),
            best_epoch: Some(1),
            seconds: Some(1.0),
            error: None,
            checkpoint: None,
            checkpoint_sha256: None,
            seed: None,
            data_sha256: None,
            exp_version: None,
            metrics: BTreeMap::new(),
        }
    }

    /// The value of the metric called `name`: `rmse` and `mae` from their columns, any
    /// other name from [`StoredRun::metrics`]. `None` when the run has no such value.
    pub fn metric(&self, name: &str) -> Option<f64> {
        match name {
            "rmse" => self.rmse,
            "mae" => self.mae,
            other => self.metrics.get(other).copied(),
        }
    }
}

/// An experiment as stored by `exp run` or `exp slurm submit`: everything `exp worker`
/// needs, besides the data, to train its runs.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredExperiment {
    /// Row id.
    pub id: i64,
    /// `experiment.name`.
    pub name: String,
    /// The file it was run from (for messages; workers do not read it).
    pub file: String,
    /// The file's text.
    pub source_toml: String,
    /// The `--set KEY=VALUE` overrides it was run with.
    pub overrides: Vec<String>,
    /// Each data set's SHA-256 as loaded, a JSON object of data set name to hash; `None`
    /// for experiments stored before exp recorded it.
    pub data_sha256: Option<String>,
}

/// The runs of one experiment that one host's workers trained or are training.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostCounts {
    /// Experiment name.
    pub experiment: String,
    /// The worker host (`owner_host`).
    pub host: String,
    /// How many processes on it have claimed runs (distinct pids).
    pub processes: usize,
    /// Finished or pruned runs.
    pub finished: usize,
    /// Runs it is training now.
    pub running: usize,
    /// Failed or interrupted runs.
    pub ended_otherwise: usize,
}
