//! The training loop: minibatches reshuffled every epoch, a loss, an optimiser step, and
//! test scores after every epoch. The same loop trains every model.

pub mod adam;
pub mod adamax;
mod lazy;
pub mod loss;
pub mod sgd;

pub use lazy::decays;

use std::time::Instant;

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor};
use rand::Rng;
use rand::seq::SliceRandom;

use crate::config::spec::{OptimizerName, TrainingSpec};
use crate::data::dataset::Ratings;
use crate::metrics::{self, Scores};
use crate::models::{Batch, Params, RatingModel, Tape};

/// Updates a model's parameters from the gradients of one batch.
pub trait Optimizer: Send {
    /// One step: embedding rows recorded on `tape` and every dense variable.
    fn step(&mut self, params: &Params, tape: &Tape, grads: &GradStore) -> candle_core::Result<()>;
}

/// Builds the optimiser `spec` names for `params`, with `training.learning_rate`,
/// `training.l2` (embedding rows), `training.weight_decay` (dense variables not named
/// `…bias`, see [`decays`]) and, for SGD, `training.momentum`; Adam and AdaMax use the
/// Keras defaults for β₁, β₂ and ε.
pub fn optimizer(spec: &TrainingSpec, params: &Params) -> Result<Box<dyn Optimizer>, TrainError> {
    let (learning_rate, l2, weight_decay) = (spec.learning_rate, spec.l2, spec.weight_decay);
    Ok(match spec.optimizer {
        OptimizerName::Adam => Box::new(adam::Adam::new(
            params,
            adam::AdamConfig {
                weight_decay,
                ..adam::AdamConfig::new(learning_rate, l2)
            },
        )),
        OptimizerName::Adamax => Box::new(adamax::Adamax::new(
            params,
            adamax::AdamaxConfig {
                weight_decay,
                ..adamax::AdamaxConfig::new(learning_rate, l2)
            },
        )),
        OptimizerName::Sgd => Box::new(sgd::Sgd::new(
            params,
            sgd::SgdConfig {
                learning_rate,
                momentum: spec.momentum,
                l2,
                weight_decay,
            },
        )),
    })
}

/// Why training stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The loss became NaN or infinite: the learning rate is too high for this model.
    #[error("training diverged: loss became {loss} at epoch {epoch}, batch {batch}")]
    Diverged {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch.
        batch: usize,
        /// The offending value.
        loss: f32,
    },
    /// The configuration asks for something this build cannot train yet.
    #[error("not supported yet: {0}")]
    Unsupported(String),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// What one epoch measured.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochReport {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (data loss only, without L2).
    pub train_loss: f64,
    /// Scores on the test ratings after the epoch.
    pub test: Scores,
    /// Seconds spent training and evaluating this epoch.
    pub seconds: f64,
    /// Seconds spent on the training batches alone (what benchmarks compare).
    pub train_seconds: f64,
}

/// Ratings a run trains on and is scored on.
#[derive(Debug, Clone, Copy)]
pub struct TrainData<'a> {
    /// All ratings of the data set.
    pub ratings: &'a Ratings,
    /// Indices into `ratings` to train on.
    pub train: &'a [usize],
    /// Indices into `ratings` to score after each epoch.
    pub test: &'a [usize],
    /// Predictions are clipped to this range when scored.
    pub rating_range: (f32, f32),
}

/// Trains `model` for `spec.epochs` epochs, calling `on_epoch` after each; returns every
/// epoch's report.
pub fn train(
    model: &dyn RatingModel,
    optimizer: &mut dyn Optimizer,
    spec: &TrainingSpec,
    data: TrainData<'_>,
    rng: &mut impl Rng,
    mut on_epoch: impl FnMut(&EpochReport),
) -> Result<Vec<EpochReport>, TrainError> {
    let device = model.params().device().clone();
    // The training ratings packed as triples: shuffling them keeps each batch one
    // contiguous read instead of three random reads per rating.
    let mut triples: Vec<Triple> = data
        .train
        .iter()
        .map(|&i| Triple {
            user: data.ratings.users[i],
            item: data.ratings.items[i],
            value: data.ratings.values[i],
        })
        .collect();
    let mut buffers = BatchBuffers::with_capacity(spec.batch_size);
    let mut reports = Vec::with_capacity(spec.epochs);
    for epoch in 1..=spec.epochs {
        let started = Instant::now();
        triples.shuffle(rng);
        let mut loss_sum = 0.0f64;
        let mut batches = 0usize;
        for (b, chunk) in triples.chunks(spec.batch_size).enumerate() {
            buffers.fill_triples(chunk);
            let (batch, target) = buffers.tensors(&device)?;
            let mut tape = Tape::recording();
            let predicted = model.forward(&batch, &mut tape)?;
            let loss = loss::loss(spec, &predicted, &target)?;
            let value = loss.to_scalar::<f32>()?;
            if !value.is_finite() {
                return Err(TrainError::Diverged {
                    epoch,
                    batch: b + 1,
                    loss: value,
                });
            }
            let grads = loss.backward()?;
            optimizer.step(model.params(), &tape, &grads)?;
            loss_sum += value as f64;
            batches += 1;
        }
        let train_seconds = started.elapsed().as_secs_f64();
        let test = evaluate(model, data.ratings, data.test, data.rating_range)?;
        let report = EpochReport {
            epoch,
            train_loss: loss_sum / batches.max(1) as f64,
            test,
            seconds: started.elapsed().as_secs_f64(),
            train_seconds,
        };
        on_epoch(&report);
        reports.push(report);
    }
    Ok(reports)
}

/// Ratings per evaluation batch: large, since evaluation keeps no gradients.
const EVAL_BATCH: usize = 8192;

/// RMSE and MAE of `model` on the ratings at `indices`, predictions clipped to `range`.
pub fn evaluate(
    model: &dyn RatingModel,
    ratings: &Ratings,
    indices: &[usize],
    range: (f32, f32),
) -> candle_core::Result<Scores> {
    let predicted = predict(model, ratings, indices, range)?;
    let actual: Vec<f32> = indices.iter().map(|&i| ratings.values[i]).collect();
    Ok(metrics::score(&predicted, &actual))
}

/// Predictions of `model` for the ratings at `indices`, clipped to `range`.
pub fn predict(
    model: &dyn RatingModel,
    ratings: &Ratings,
    indices: &[usize],
    range: (f32, f32),
) -> candle_core::Result<Vec<f32>> {
    let device = model.params().device().clone();
    let mut buffers = BatchBuffers::with_capacity(EVAL_BATCH);
    let mut out = Vec::with_capacity(indices.len());
    for chunk in indices.chunks(EVAL_BATCH) {
        buffers.fill(ratings, chunk);
        let (batch, _) = buffers.tensors(&device)?;
        let predicted = model.forward(&batch, &mut Tape::off())?;
        out.extend(
            predicted
                .to_vec1::<f32>()?
                .into_iter()
                .map(|p| p.clamp(range.0, range.1)),
        );
    }
    Ok(out)
}

/// One training rating.
#[derive(Debug, Clone, Copy)]
struct Triple {
    user: u32,
    item: u32,
    value: f32,
}

/// Host-side batch columns, allocated once per run and refilled for every batch.
#[derive(Debug, Default)]
struct BatchBuffers {
    users: Vec<u32>,
    items: Vec<u32>,
    values: Vec<f32>,
}

impl BatchBuffers {
    fn with_capacity(n: usize) -> Self {
        BatchBuffers {
            users: Vec::with_capacity(n),
            items: Vec::with_capacity(n),
            values: Vec::with_capacity(n),
        }
    }

    fn fill(&mut self, ratings: &Ratings, indices: &[usize]) {
        self.users.clear();
        self.items.clear();
        self.values.clear();
        for &i in indices {
            self.users.push(ratings.users[i]);
            self.items.push(ratings.items[i]);
            self.values.push(ratings.values[i]);
        }
    }

    fn fill_triples(&mut self, triples: &[Triple]) {
        self.users.clear();
        self.items.clear();
        self.values.clear();
        for t in triples {
            self.users.push(t.user);
            self.items.push(t.item);
            self.values.push(t.value);
        }
    }

    fn tensors(&self, device: &Device) -> candle_core::Result<(Batch, Tensor)> {
        let n = self.users.len();
        let batch = Batch {
            users: Tensor::from_slice(&self.users, n, device)?,
            items: Tensor::from_slice(&self.items, n, device)?,
        };
        Ok((batch, Tensor::from_slice(&self.values, n, device)?))
    }
}
