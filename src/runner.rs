//! Executes one run: split the data, build the model, train it, and report every epoch.
//!
//! The scheduler calls runs through the [`Executor`] trait, so the whole pipeline can be
//! tested with a mock executor that trains nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use candle_core::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::spec::{Architecture, CheckpointPolicy, SplitSpec, TemporalCut};
use crate::data::dataset::Dataset;
use crate::data::features::content_features;
use crate::data::implicit::RatedItems;
use crate::data::item_ratings::ItemRatings;
use crate::data::split::{self, PerUserCut, Split, SplitError};
use crate::engine::{Engine, EngineError};
use crate::models::{self, ModelContext};
use crate::store::predictions::Prediction;
use crate::store::records::EpochRecord;
use crate::sweep::RunSpec;
use crate::train::{self, EpochControl, TrainData};

/// The result of a run that trained to the end.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// Test RMSE of the reported epoch.
    pub rmse: f64,
    /// Test MAE of the reported epoch.
    pub mae: f64,
    /// The 1-based epoch reported: the best validation epoch with early stopping, else
    /// the last.
    pub best_epoch: usize,
    /// Where the reported weights were saved and their checksum, if they were.
    pub checkpoint: Option<SavedCheckpoint>,
    /// The engine that computed the training steps; `None` for a closed-form fit.
    pub engine: Option<Engine>,
    /// Wall-clock seconds of the whole run, data split included.
    pub seconds: f64,
    /// Further named metrics of the reported epoch (e.g. `ndcg@10`); RMSE and MAE are
    /// the fields above.
    pub metrics: Vec<(String, f64)>,
    /// The reported epoch's test predictions, when `metrics.save_predictions` asks for
    /// them.
    pub predictions: Option<Vec<Prediction>>,
    /// Each user's value of each ranking metric, when `metrics.save_predictions` asks for
    /// them and the run has ranking metrics (empty otherwise).
    pub user_metrics: crate::rank::UserValues,
}

/// A checkpoint file a run wrote, and the SHA-256 of its bytes (stored with the run, so
/// a file changed later is refused instead of used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedCheckpoint {
    /// The file.
    pub path: PathBuf,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
}

/// Where a run trains and how it learns that it must stop: given by the scheduler's
/// worker to each run it executes.
#[derive(Debug, Clone, Copy)]
pub struct RunEnv<'a> {
    /// The worker's device (CPU, or the CUDA GPU it owns).
    pub device: &'a Device,
    /// Raised when the sweep is asked to stop; training checks it before every batch.
    pub stop: &'a AtomicBool,
}

/// Why a run did not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunError {
    /// It failed (divergence, bad data, a panic): the human-readable reason. It fails
    /// that run only.
    Failed(String),
    /// It was stopped on request; the reason says where.
    Interrupted(String),
    /// `on_epoch` asked to stop after this 1-based epoch (a search's pruner).
    Pruned(usize),
}

/// Runs one [`RunSpec`] on its data set.
pub trait Executor: Sync {
    /// Trains and scores `run` on `env.device`, calling `on_epoch` after each epoch
    /// (stopping with [`RunError::Pruned`] when it answers [`EpochControl::Prune`]) and
    /// stopping with [`RunError::Interrupted`] soon after `env.stop` is raised.
    fn execute(
        &self,
        run: &RunSpec,
        data: &Dataset,
        env: &RunEnv<'_>,
        on_epoch: &mut dyn FnMut(&EpochRecord) -> EpochControl,
    ) -> Result<RunResult, RunError>;
}

/// Trains runs with candle on the device each worker gives it.
#[derive(Debug, Clone, Default)]
pub struct CandleExecutor {
    checkpoints: Option<PathBuf>,
    checkpoint_mode: Option<u32>,
}

impl CandleExecutor {
    /// An executor that saves no weights.
    pub fn new() -> Self {
        CandleExecutor::default()
    }

    /// Saves each finished run's reported weights as `<dir>/<run key>.safetensors`.
    pub fn with_checkpoints(mut self, dir: PathBuf) -> Self {
        self.checkpoints = Some(dir);
        self
    }

    /// Gives every checkpoint file the Unix permission bits `mode` (those of the
    /// database, so whoever may read the results may read the weights too).
    pub fn with_checkpoint_mode(mut self, mode: Option<u32>) -> Self {
        self.checkpoint_mode = mode;
        self
    }
}

impl Executor for CandleExecutor {
    fn execute(
        &self,
        run: &RunSpec,
        data: &Dataset,
        env: &RunEnv<'_>,
        on_epoch: &mut dyn FnMut(&EpochRecord) -> EpochControl,
    ) -> Result<RunResult, RunError> {
        // (The scheduler catches a panic here and fails only this run.)
        self.train(run, data, env, on_epoch)
    }
}

impl CandleExecutor {
    fn train(
        &self,
        run: &RunSpec,
        data: &Dataset,
        env: &RunEnv<'_>,
        on_epoch: &mut dyn FnMut(&EpochRecord) -> EpochControl,
    ) -> Result<RunResult, RunError> {
        let failed = |e: &dyn std::fmt::Display| RunError::Failed(e.to_string());
        let started = Instant::now();
        let split = split_for(run, data).map_err(|e| failed(&e))?;
        let TrainedRun {
            model,
            trained,
            engine,
        } = train_model(run, data, &split, env, on_epoch)?;
        let best = trained
            .best()
            .ok_or_else(|| RunError::Failed("no epoch was trained".into()))?;
        let checkpoint = match &self.checkpoints {
            Some(dir)
                if run.config.training.checkpoint == CheckpointPolicy::Best
                    && model.params().count() > 0 =>
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    RunError::Failed(format!("cannot create {}: {e}", dir.display()))
                })?;
                let path = dir.join(format!("{}.safetensors", run.key));
                let extras = model.checkpoint_extras().map_err(|e| failed(&e))?;
                model.params().save(&path, extras).map_err(|e| {
                    RunError::Failed(format!("cannot save weights to {}: {e}", path.display()))
                })?;
                Some(finish_checkpoint(path, self.checkpoint_mode)?)
            }
            _ => None,
        };
        // The run's time is its training's: ranking and saved predictions are not timed.
        let seconds = started.elapsed().as_secs_f64();
        let predictions = if run.config.save_predictions {
            Some(test_predictions(model.as_ref(), data, &split).map_err(|e| failed(&e))?)
        } else {
            None
        };
        let (metrics, user_metrics) = if run.config.save_predictions {
            crate::rank::run_metrics_per_user(
                run.config.ranking.as_ref(),
                model.as_ref(),
                data,
                &split,
            )
        } else {
            crate::rank::run_metrics(run.config.ranking.as_ref(), model.as_ref(), data, &split)
                .map(|m| (m, Vec::new()))
        }
        .map_err(|e| RunError::Failed(format!("ranking metrics: {e}")))?;
        Ok(RunResult {
            predictions,
            user_metrics,
            metrics,
            rmse: best.test.rmse,
            mae: best.test.mae,
            best_epoch: trained.best_epoch,
            seconds,
            checkpoint,
            engine,
        })
    }
}

/// `model`'s predictions for the test ratings of `split`, clipped to the rating range as
/// the test metrics are, in the split's order.
pub fn test_predictions(
    model: &dyn models::RatingModel,
    data: &Dataset,
    split: &Split,
) -> candle_core::Result<Vec<Prediction>> {
    let ratings = &data.ratings;
    let predicted = train::predict(model, ratings, &split.test, data.rating_range)?;
    Ok(split
        .test
        .iter()
        .zip(predicted)
        .map(|(&i, prediction)| Prediction {
            user: ratings.users[i],
            item: ratings.items[i],
            rating: ratings.values[i],
            prediction,
        })
        .collect())
}

/// Gives a written checkpoint the permission bits `mode` (when set) and hashes it.
fn finish_checkpoint(path: PathBuf, mode: Option<u32>) -> Result<SavedCheckpoint, RunError> {
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o777)).map_err(
            |e| {
                RunError::Failed(format!(
                    "cannot set the permissions of {} to {:o}: {e}",
                    path.display(),
                    mode & 0o777
                ))
            },
        )?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    let sha256 = crate::digest::sha256_file(&path)
        .map_err(|e| RunError::Failed(format!("cannot read back {}: {e}", path.display())))?;
    Ok(SavedCheckpoint { path, sha256 })
}

/// A model trained by [`train_model`], holding the reported epoch's weights.
pub struct TrainedRun {
    /// The model.
    pub model: Box<dyn models::RatingModel>,
    /// Every epoch's scores and which one is reported.
    pub trained: train::Trained,
    /// The engine that computed the steps; `None` for a closed-form fit.
    pub engine: Option<Engine>,
}

/// Builds `run`'s model on `split` and trains it (or fits it in closed form), calling
/// `on_epoch` after each epoch. Deterministic for a run: the initialisation and the
/// shuffling come from the run's seed and fold, so training a run again reproduces the
/// weights it had (what `exp recommend` relies on for runs saved without a checkpoint).
pub fn train_model(
    run: &RunSpec,
    data: &Dataset,
    split: &Split,
    env: &RunEnv<'_>,
    on_epoch: &mut dyn FnMut(&EpochRecord) -> EpochControl,
) -> Result<TrainedRun, RunError> {
    let failed = |e: &dyn std::fmt::Display| RunError::Failed(e.to_string());
    let started = Instant::now();
    if split.train.is_empty() || split.test.is_empty() {
        return Err(RunError::Failed(format!(
            "the split left {} training and {} test ratings; both must be non-empty",
            split.train.len(),
            split.test.len()
        )));
    }
    let ratings = &data.ratings;
    let ctx = model_context(run, data, &split.train, env.device).map_err(|e| failed(&e))?;
    // One stream for initialisation, another for shuffling, both from the run's seed
    // and fold, so a run is reproducible on its own whatever else runs beside it.
    let mut init_rng = ChaCha8Rng::seed_from_u64(stream_seed(run, 0));
    let mut shuffle_rng = ChaCha8Rng::seed_from_u64(stream_seed(run, 1));
    let model = models::build(&run.config.model, &ctx, &mut init_rng).map_err(|e| failed(&e))?;
    let on_report = |report: &train::EpochReport| {
        on_epoch(&EpochRecord {
            epoch: report.epoch,
            train_loss: report.train_loss,
            rmse: report.test.rmse,
            mae: report.test.mae,
            seconds: report.seconds,
            train_seconds: Some(report.train_seconds),
            validation_rmse: report.validation.map(|s| s.rmse),
            validation_mae: report.validation.map(|s| s.mae),
        })
    };
    let train_data = TrainData {
        ratings,
        train: &split.train,
        validation: &split.validation,
        test: &split.test,
        rating_range: data.rating_range,
    };
    let closed_form = model.fit_closed_form(ratings, &split.train);
    let engine = closed_form.is_none().then_some(ctx.engine);
    let trained = match closed_form {
        Some(fitted) => {
            fitted.map_err(|e| failed(&e))?;
            train::closed_form_report(model.as_ref(), train_data, started, on_report)
                .map_err(|e| failed(&e))?
        }
        None => {
            let mut optimizer =
                train::optimizer(&run.config.training, model.params()).map_err(|e| failed(&e))?;
            train::train(
                model.as_ref(),
                optimizer.as_mut(),
                &run.config.training,
                train_data,
                &mut shuffle_rng,
                env.stop,
                on_report,
            )
            .map_err(|e| match e {
                train::TrainError::Interrupted { .. } => RunError::Interrupted(e.to_string()),
                train::TrainError::Pruned { epoch } => RunError::Pruned(epoch),
                e => failed(&e),
            })?
        }
    };
    Ok(TrainedRun {
        model,
        trained,
        engine,
    })
}

/// What a model needs to know about `run`'s data: sizes, rating range, the training
/// mean and, for the content model only, features computed from the training ratings.
pub fn model_context(
    run: &RunSpec,
    data: &Dataset,
    train: &[usize],
    device: &Device,
) -> Result<ModelContext, EngineError> {
    let ratings = &data.ratings;
    let global_mean =
        train.iter().map(|&i| ratings.values[i] as f64).sum::<f64>() / train.len().max(1) as f64;
    Ok(ModelContext {
        engine: Engine::resolve(run.config.training.engine, device)?,
        n_users: data.n_users(),
        n_items: data.n_items(),
        rating_range: data.rating_range,
        global_mean: global_mean as f32,
        device: device.clone(),
        // Only the content model reads features; computing them costs a pass over the
        // training ratings, so the others skip it.
        features: (run.config.model.architecture == Architecture::TwoTower)
            .then(|| Arc::new(content_features(data, train))),
        implicit: (run.config.model.architecture == Architecture::SvdPp)
            .then(|| Arc::new(RatedItems::from_training(ratings, train, data.n_users()))),
        item_ratings: (run.config.model.architecture == Architecture::AutoRec)
            .then(|| Arc::new(ItemRatings::from_training(ratings, train, data.n_items()))),
    })
}

/// The seed of random stream `stream` of `run`: distinct per fold and per stream, the same
/// on every machine.
fn stream_seed(run: &RunSpec, stream: u64) -> u64 {
    run.seed ^ ((run.fold as u64) << 32) ^ (stream << 56)
}

/// The split of `data` for `run`'s fold. Holdout, k-fold and user-holdout splits depend
/// on the seed; temporal ones on the timestamps; predefined ones read the fold's files
/// (relative names from the data set's folder, found as `data::load` finds it).
pub fn split_for(run: &RunSpec, data: &Dataset) -> Result<Split, SplitError> {
    let n = data.ratings.len();
    let ratings = &data.ratings;
    Ok(match &run.config.split {
        SplitSpec::Holdout {
            test_fraction,
            validation_fraction,
        } => split::holdout(n, *test_fraction, *validation_fraction, run.seed),
        SplitSpec::Kfold {
            k,
            validation_fraction,
        } => split::kfold(n, *k, run.fold, *validation_fraction, run.seed),
        SplitSpec::UserHoldout {
            test_fraction,
            validation_fraction,
        } => split::user_holdout(
            &ratings.users,
            *test_fraction,
            *validation_fraction,
            run.seed,
        ),
        SplitSpec::Temporal {
            cut,
            validation_fraction,
        } => {
            if ratings.timestamps.iter().all(|&t| t == 0) {
                return Err(SplitError::NoTimestamps {
                    dataset: data.name.clone(),
                });
            }
            let (times, vf) = (&ratings.timestamps, *validation_fraction);
            match cut {
                TemporalCut::Latest { test_fraction } => {
                    split::temporal::latest(times, *test_fraction, vf)
                }
                TemporalCut::Before { at, .. } => split::temporal::before(times, *at, vf),
                TemporalCut::UserLast { leave_last } => split::temporal::per_user(
                    &ratings.users,
                    times,
                    PerUserCut::Last(*leave_last),
                    vf,
                ),
                TemporalCut::UserLatest { test_fraction } => split::temporal::per_user(
                    &ratings.users,
                    times,
                    PerUserCut::Fraction(*test_fraction),
                    vf,
                ),
            }
        }
        SplitSpec::Predefined {
            files,
            validation_fraction,
        } => {
            // `fold` < `folds()` = `files.len()` for every run the sweep makes.
            let Some(pair) = files.get(run.fold) else {
                return Err(SplitError::NoSuchFold {
                    fold: run.fold,
                    folds: files.len(),
                });
            };
            let folder = match crate::data::source_for(&run.config.data) {
                Ok(crate::data::Source::Dir { path, .. }) => Some(path),
                _ => None,
            };
            split::predefined::read_fold(
                data,
                run.config.data.dataset,
                folder.as_deref(),
                pair,
                *validation_fraction,
                run.seed,
            )?
        }
    })
}
