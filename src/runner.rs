//! Executes one run: split the data, build the model, train it, and report every epoch.
//!
//! The scheduler calls runs through the [`Executor`] trait, so the whole pipeline can be
//! tested with a mock executor that trains nothing.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use candle_core::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::spec::{Architecture, SplitSpec};
use crate::data::dataset::Dataset;
use crate::data::features::content_features;
use crate::data::split::{self, Split};
use crate::models::{self, ModelContext};
use crate::store::records::EpochRecord;
use crate::sweep::RunSpec;
use crate::train::{self, TrainData};

/// The result of a run that trained to the end.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// Test RMSE of the reported epoch.
    pub rmse: f64,
    /// Test MAE of the reported epoch.
    pub mae: f64,
    /// The 1-based epoch reported (the last one).
    pub best_epoch: usize,
    /// Wall-clock seconds of the whole run, data split included.
    pub seconds: f64,
}

/// Runs one [`RunSpec`] on its data set.
pub trait Executor: Sync {
    /// Trains and scores `run`, calling `on_epoch` after each epoch; an `Err` is the
    /// human-readable reason the run failed (it fails that run only).
    fn execute(
        &self,
        run: &RunSpec,
        data: &Dataset,
        on_epoch: &mut dyn FnMut(&EpochRecord),
    ) -> Result<RunResult, String>;
}

/// Trains runs with candle on the CPU.
#[derive(Debug, Clone)]
pub struct CandleExecutor {
    device: Device,
}

impl CandleExecutor {
    /// An executor training on the CPU.
    pub fn cpu() -> Self {
        CandleExecutor {
            device: Device::Cpu,
        }
    }
}

impl Executor for CandleExecutor {
    fn execute(
        &self,
        run: &RunSpec,
        data: &Dataset,
        on_epoch: &mut dyn FnMut(&EpochRecord),
    ) -> Result<RunResult, String> {
        // A panic in one run must fail that run, not the sweep.
        catch_unwind(AssertUnwindSafe(|| self.train(run, data, on_epoch))).unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            Err(format!("internal error (panic): {message}"))
        })
    }
}

impl CandleExecutor {
    fn train(
        &self,
        run: &RunSpec,
        data: &Dataset,
        on_epoch: &mut dyn FnMut(&EpochRecord),
    ) -> Result<RunResult, String> {
        let started = Instant::now();
        let split = split_for(run, data.ratings.len());
        if split.train.is_empty() || split.test.is_empty() {
            return Err(format!(
                "the split left {} training and {} test ratings; both must be non-empty",
                split.train.len(),
                split.test.len()
            ));
        }
        let ratings = &data.ratings;
        let global_mean = split
            .train
            .iter()
            .map(|&i| ratings.values[i] as f64)
            .sum::<f64>()
            / split.train.len() as f64;
        let ctx = ModelContext {
            n_users: data.n_users(),
            n_items: data.n_items(),
            rating_range: data.rating_range,
            global_mean: global_mean as f32,
            device: self.device.clone(),
            // Only the content model reads features; computing them costs a pass over
            // the training ratings, so the others skip it.
            features: (run.config.model.architecture == Architecture::TwoTower)
                .then(|| Arc::new(content_features(data, &split.train))),
        };
        // One stream for initialisation, another for shuffling, both from the run's seed
        // and fold, so a run is reproducible on its own whatever else runs beside it.
        let mut init_rng = ChaCha8Rng::seed_from_u64(stream_seed(run, 0));
        let mut shuffle_rng = ChaCha8Rng::seed_from_u64(stream_seed(run, 1));
        let model =
            models::build(&run.config.model, &ctx, &mut init_rng).map_err(|e| e.to_string())?;
        let mut optimizer =
            train::optimizer(&run.config.training, model.params()).map_err(|e| e.to_string())?;
        let train_data = TrainData {
            ratings,
            train: &split.train,
            test: &split.test,
            rating_range: data.rating_range,
        };
        let reports = train::train(
            model.as_ref(),
            optimizer.as_mut(),
            &run.config.training,
            train_data,
            &mut shuffle_rng,
            |report| {
                on_epoch(&EpochRecord {
                    epoch: report.epoch,
                    train_loss: report.train_loss,
                    rmse: report.test.rmse,
                    mae: report.test.mae,
                    seconds: report.seconds,
                })
            },
        )
        .map_err(|e| e.to_string())?;
        let last = reports.last().ok_or("no epoch was trained")?;
        Ok(RunResult {
            rmse: last.test.rmse,
            mae: last.test.mae,
            best_epoch: last.epoch,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// The seed of random stream `stream` of `run`: distinct per fold and per stream, the same
/// on every machine.
fn stream_seed(run: &RunSpec, stream: u64) -> u64 {
    run.seed ^ ((run.fold as u64) << 32) ^ (stream << 56)
}

/// The split of `n` ratings for `run`'s fold.
pub fn split_for(run: &RunSpec, n: usize) -> Split {
    match run.config.split {
        SplitSpec::Holdout {
            test_fraction,
            validation_fraction,
        } => split::holdout(n, test_fraction, validation_fraction, run.seed),
        SplitSpec::Kfold {
            k,
            validation_fraction,
        } => split::kfold(n, k, run.fold, validation_fraction, run.seed),
    }
}
