//! Rebuilding a finished run from the database: its configuration, data set, split and
//! trained model, so that `exp recommend` and `exp similar` can use runs trained earlier.
//!
//! A run stores its resolved configuration (`config_json`), its fold, its key and its seed
//! (runs stored before seeds were recorded: the experiment's, `experiment.seed` in the
//! stored experiment file); the key — a hash of seed, configuration and fold — confirms
//! it. A checkpoint is used only if its bytes still hash to the SHA-256 stored with the
//! run. With those the data set, the split
//! and the model's context are rebuilt exactly as the run had them, so "not rated in
//! training" means what it meant when the run trained. Trained models then read the
//! weights of the reported epoch from the run's checkpoint, or, when the run saved none
//! (`training.checkpoint = "none"`, the default), are trained again: training is
//! deterministic for a run's seed and fold, so that reproduces the weights, in the run's
//! own training time. The closed-form baselines are fitted again on the rebuilt training
//! split (deterministic, and a few milliseconds).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use candle_core::Device;
use rand::SeedableRng;

use crate::config::spec::RunConfig;
use crate::config::{self, DEFAULT_SEED};
use crate::data::{self, DataError, Dataset, Split};
use crate::models::{self, RatingModel};
use crate::rank::UserItems;
use crate::runner::{self, RunEnv, RunError};
use crate::store::records::{RunStatus, StoredRun};
use crate::store::{Store, StoreError};
use crate::sweep::{self, RunSpec};
use crate::train::EpochControl;

/// Why a stored run cannot be rebuilt. Every variant names the run.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// Reading the database failed, or there is no such run.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Only finished runs have trained weights.
    #[error("run {run_id} is {status}, not finished: only a finished run has a trained model")]
    NotFinished {
        /// The run.
        run_id: i64,
        /// Its status, `running` or `failed`.
        status: &'static str,
    },
    /// The stored configuration is not one this exp can read (written by another version).
    #[error("run {run_id}: its stored configuration (`runs.config_json`) cannot be read")]
    Config {
        /// The run.
        run_id: i64,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// No candidate seed reproduces the run's key.
    #[error(
        "run {run_id}: cannot recover its seed: its key `{key}` matches neither the seed of \
         experiment `{experiment}`'s stored file nor the default ({tried}); was the file's \
         `experiment.seed` changed after this run?"
    )]
    Seed {
        /// The run.
        run_id: i64,
        /// Its key.
        key: String,
        /// Its experiment.
        experiment: String,
        /// The seeds tried, e.g. `7, 42`.
        tried: String,
    },
    /// The run's split cannot be made again here (e.g. a predefined split's file is gone).
    #[error("run {run_id}: splitting its data")]
    Split {
        /// The run.
        run_id: i64,
        /// Why.
        #[source]
        source: Box<crate::data::split::SplitError>,
    },
    /// The run's data set cannot be loaded here.
    #[error("run {run_id}: loading data set {dataset}")]
    Data {
        /// The run.
        run_id: i64,
        /// The data set's name.
        dataset: &'static str,
        /// Why.
        #[source]
        source: DataError,
    },
    /// Training the run again (it saved no weights) failed.
    #[error("run {run_id}: it saved no weights, and training it again failed: {reason}")]
    Retrain {
        /// The run.
        run_id: i64,
        /// Why training failed.
        reason: String,
    },
    /// The checkpoint file is not the one the run wrote: its bytes hash differently.
    #[error(
        "run {run_id}: checkpoint `{path}` has changed since the run wrote it (SHA-256 \
         {found}, recorded {expected}); refusing to use it. Delete it to train the run \
         again from its configuration and seed"
    )]
    CheckpointChanged {
        /// The run.
        run_id: i64,
        /// The file.
        path: PathBuf,
        /// The SHA-256 stored with the run.
        expected: String,
        /// The SHA-256 of the file now.
        found: String,
    },
    /// The checkpoint file exists but cannot be read.
    #[error("run {run_id}: cannot read checkpoint `{path}`")]
    CheckpointUnreadable {
        /// The run.
        run_id: i64,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Building the model or reading its weights failed.
    #[error("run {run_id}: rebuilding the {architecture} model")]
    Model {
        /// The run.
        run_id: i64,
        /// Its architecture.
        architecture: &'static str,
        /// The tensor error (e.g. a checkpoint of another shape).
        #[source]
        source: candle_core::Error,
    },
}

/// Where a reloaded model's weights came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Weights {
    /// Read from this checkpoint file.
    Checkpoint(PathBuf),
    /// A closed-form baseline, fitted again on the rebuilt training split.
    Refitted,
    /// Trained again from the run's configuration, seed and fold, which reproduces its
    /// weights: the run saved none (`training.checkpoint = "none"`), or its file is gone.
    Retrained {
        /// Checkpoint paths that were recorded but are missing (empty: none was saved).
        missing: Vec<PathBuf>,
        /// Wall-clock seconds the training took.
        seconds: f64,
    },
}

/// A finished run, rebuilt.
pub struct Reloaded {
    /// The run as stored.
    pub stored: StoredRun,
    /// The run as the runner saw it (seed recovered; grid point and labels left empty).
    pub run: RunSpec,
    /// Its data set.
    pub data: Dataset,
    /// Its split, rebuilt from the seed and fold.
    pub split: Split,
    /// The trained model, holding the reported epoch's weights.
    pub model: Box<dyn RatingModel>,
    /// Where the weights came from.
    pub weights: Weights,
}

impl std::fmt::Debug for Reloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloaded")
            .field("stored", &self.stored)
            .field("weights", &self.weights)
            .finish_non_exhaustive()
    }
}

impl Reloaded {
    /// The items each user rated in the training part of the split (training and
    /// validation ratings): what recommendations and ranking metrics leave out.
    pub fn training_items(&self) -> UserItems {
        let part = self.split.train.iter().chain(&self.split.validation);
        UserItems::new(&self.data.ratings, part.copied(), self.data.n_users())
    }

    /// Test RMSE of the rebuilt model: equal to the stored one when the rebuild is exact.
    pub fn test_rmse(&self) -> candle_core::Result<f64> {
        let scores = crate::train::evaluate(
            self.model.as_ref(),
            &self.data.ratings,
            &self.split.test,
            self.data.rating_range,
        )?;
        Ok(scores.rmse)
    }

    /// The architecture's name, e.g. `biased-mf`.
    pub fn architecture(&self) -> &'static str {
        self.run.config.model.architecture.as_str()
    }

    /// A one-line description: `run 12 (experiment sweep, biased-mf, ml-latest-small,
    /// fold 1/5)`.
    pub fn describe(&self) -> String {
        format!(
            "run {} (experiment {}, {}, {}, fold {}/{})",
            self.stored.id,
            self.stored.experiment,
            self.architecture(),
            self.data.name,
            self.run.fold + 1,
            self.run.folds
        )
    }
}

/// Rebuilds finished run `run_id` of `store`. Checkpoint paths are tried as stored
/// (relative to where `exp run` was started), then under the database's directory as
/// `<experiment>/checkpoints/<key>.safetensors`; a run without one is trained again on
/// the CPU.
pub fn reload(store: &Store, run_id: i64) -> Result<Reloaded, ReloadError> {
    let stored = store.run(run_id)?;
    if stored.status != RunStatus::Finished {
        return Err(ReloadError::NotFinished {
            run_id,
            status: stored.status.as_str(),
        });
    }
    let config: RunConfig = serde_json::from_str(&stored.config_json)
        .map_err(|source| ReloadError::Config { run_id, source })?;
    let source = store.experiment_source(&stored.experiment)?;
    let seed = recover_seed(&stored, &config, source.as_deref())?;
    let run = RunSpec {
        experiment: stored.experiment.clone(),
        point: 0,
        params: Vec::new(),
        folds: config.split.folds(),
        config,
        seed,
        repeat: stored.repeat,
        fold: stored.fold,
        key: stored.key.clone(),
        trial: None,
    };
    let data = data::load(&run.config.data).map_err(|source| ReloadError::Data {
        run_id,
        dataset: run.config.data.dataset.as_str(),
        source,
    })?;
    let split = runner::split_for(&run, &data).map_err(|source| ReloadError::Split {
        run_id,
        source: Box::new(source),
    })?;
    let architecture = run.config.model.architecture.as_str();
    let model_error = |source| ReloadError::Model {
        run_id,
        architecture,
        source,
    };
    let ctx = runner::model_context(&run, &data, &split.train, &Device::Cpu)
        .map_err(|e| model_error(candle_core::Error::msg(e)))?;
    // The initial values do not matter: they are overwritten or refitted below.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let model = models::build(&run.config.model, &ctx, &mut rng).map_err(model_error)?;
    let (model, weights) = match model.fit_closed_form(&data.ratings, &split.train) {
        Some(fitted) => {
            fitted.map_err(model_error)?;
            (model, Weights::Refitted)
        }
        None => match checkpoint_path(store, &stored) {
            Ok(path) => {
                let bytes = verified_checkpoint(&stored, &path)?;
                model
                    .params()
                    .load_bytes(&bytes, &path)
                    .map_err(model_error)?;
                (model, Weights::Checkpoint(path))
            }
            Err(missing) => {
                let started = std::time::Instant::now();
                let stop = AtomicBool::new(false);
                let env = RunEnv {
                    device: &Device::Cpu,
                    stop: &stop,
                };
                let retrained =
                    runner::train_model(&run, &data, &split, &env, &mut |_| EpochControl::Continue)
                        .map_err(|e| ReloadError::Retrain {
                            run_id,
                            reason: match e {
                                RunError::Failed(reason) | RunError::Interrupted(reason) => reason,
                                RunError::Pruned(epoch) => format!("stopped after epoch {epoch}"),
                            },
                        })?;
                let weights = Weights::Retrained {
                    missing,
                    seconds: started.elapsed().as_secs_f64(),
                };
                (retrained.model, weights)
            }
        },
    };
    Ok(Reloaded {
        stored,
        run,
        data,
        split,
        model,
        weights,
    })
}

/// The bytes of the checkpoint at `path`, after checking that they hash to the SHA-256
/// stored with the run (runs stored before hashes were recorded are not checked).
fn verified_checkpoint(stored: &StoredRun, path: &Path) -> Result<Vec<u8>, ReloadError> {
    let bytes = std::fs::read(path).map_err(|source| ReloadError::CheckpointUnreadable {
        run_id: stored.id,
        path: path.to_path_buf(),
        source,
    })?;
    if let Some(expected) = &stored.checkpoint_sha256 {
        let found = crate::digest::sha256_hex(&bytes);
        if !found.eq_ignore_ascii_case(expected) {
            return Err(ReloadError::CheckpointChanged {
                run_id: stored.id,
                path: path.to_path_buf(),
                expected: expected.clone(),
                found,
            });
        }
    }
    Ok(bytes)
}

/// The seed whose run key matches the stored one: the seed stored with the run first,
/// then (runs stored before seeds were recorded) the stored experiment file's
/// `experiment.seed`, then the default.
fn recover_seed(
    stored: &StoredRun,
    config: &RunConfig,
    source: Option<&str>,
) -> Result<u64, ReloadError> {
    let mut candidates = Vec::new();
    if let Some(seed) = stored.seed {
        candidates.push(seed);
    }
    if let Some(seed) = source.and_then(config::file_seed)
        && !candidates.contains(&seed)
    {
        candidates.push(seed);
    }
    if !candidates.contains(&DEFAULT_SEED) {
        candidates.push(DEFAULT_SEED);
    }
    candidates
        .iter()
        .copied()
        .find(|&seed| sweep::run_key(seed, config, stored.fold) == stored.key)
        .ok_or_else(|| ReloadError::Seed {
            run_id: stored.id,
            key: stored.key.clone(),
            experiment: stored.experiment.clone(),
            tried: candidates
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The first existing path of the run's checkpoint (see [`reload`]); when there is none,
/// the paths tried (empty when the run saved no checkpoint).
fn checkpoint_path(store: &Store, stored: &StoredRun) -> Result<PathBuf, Vec<PathBuf>> {
    let Some(recorded) = stored.checkpoint.as_deref() else {
        return Err(Vec::new());
    };
    let beside_db = store
        .results_dir(&stored.experiment)
        .join("checkpoints")
        .join(format!("{}.safetensors", stored.key));
    let mut tried = vec![PathBuf::from(recorded)];
    if !tried.contains(&beside_db) {
        tried.push(beside_db);
    }
    // Anything at the path counts (a folder where the file was is then refused by name,
    // not silently trained around).
    match tried.iter().find(|path| path.exists()) {
        Some(path) => Ok(path.clone()),
        None => Err(tried),
    }
}
