//! The training loop: minibatches reshuffled every epoch, a loss, an optimiser step, and
//! test scores after every epoch. The same loop trains every model.

pub mod early_stopping;
pub mod schedule;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor};
use rand::Rng;

use crate::config::spec::{BatchOrder, OptimizerName, TrainingSpec};
use crate::data::dataset::Ratings;
use crate::engine::Engine;
use crate::engine::denormal;
use crate::engine::epoch_ratings::{EpochRatings, RatingOrder};
use crate::engine::loss::Loss;
use crate::engine::optim::{Optimizer, adam, adamax, sgd};
use crate::engine::params::{Batch, Params, Tape};
use crate::engine::per_rating::{PerRatingSgd, Triple};
use crate::metrics::{self, Scores};
use crate::models::{EvaluationOrder, RatingModel};
use early_stopping::{Stopper, Verdict};

/// Builds the optimiser `spec` names for `params`, with `training.learning_rate`,
/// `training.l2` (embedding rows), `training.weight_decay` (dense variables not named
/// `…bias`, see [`decays`]) and, for SGD, `training.momentum`; Adam and AdaMax use the
/// Keras defaults for β₁, β₂ and ε.
pub fn optimizer(spec: &TrainingSpec, params: &Params) -> Result<Box<dyn Optimizer>, TrainError> {
    let (learning_rate, l2, weight_decay) = (spec.learning_rate, spec.l2, spec.weight_decay);
    // The state is allocated without a fallible path (`vec!`, candle's zeros): check its
    // size first, so a state that cannot fit fails this run instead of aborting exp.
    let values = params.count() as u128;
    let state = values.saturating_mul(optimizer_slots(spec) as u128 * 4);
    crate::engine::alloc::check("the optimiser state", state)?;
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

/// State vectors per parameter value that `spec`'s optimiser keeps: Adam and AdaMax two
/// (first and second moments, or the infinity norm), SGD one with momentum and none
/// without. Memory estimates read it from here.
pub fn optimizer_slots(spec: &TrainingSpec) -> usize {
    match spec.optimizer {
        OptimizerName::Adam | OptimizerName::Adamax => 2,
        OptimizerName::Sgd => usize::from(spec.momentum != 0.0),
    }
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
    /// The sweep was asked to stop (Ctrl-C, SIGTERM) before this batch.
    #[error("interrupted before epoch {epoch}, batch {batch}")]
    Interrupted {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch.
        batch: usize,
    },
    /// The caller's `on_epoch` asked to stop after this epoch (a search's pruner).
    #[error("pruned after epoch {epoch}")]
    Pruned {
        /// 1-based epoch, the last one trained.
        epoch: usize,
    },
    /// The configuration asks for something this build cannot train yet.
    #[error("not supported yet: {0}")]
    Unsupported(String),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// What the caller of [`train`] says after each epoch: go on, or stop here because a
/// search's pruner judged the run not worth finishing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochControl {
    /// Train the next epoch.
    Continue,
    /// Stop after this epoch: [`train`] ends with [`TrainError::Pruned`].
    Prune,
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
    /// Scores on the validation ratings after the epoch (when there are any).
    pub validation: Option<Scores>,
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
    /// Indices into `ratings` held out for early stopping (may be empty).
    pub validation: &'a [usize],
    /// Indices into `ratings` to score after each epoch.
    pub test: &'a [usize],
    /// Predictions are clipped to this range when scored.
    pub rating_range: (f32, f32),
}

/// What training produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Trained {
    /// Every trained epoch, in order.
    pub epochs: Vec<EpochReport>,
    /// The 1-based epoch whose weights the model holds now and whose test scores are the
    /// run's result: the best validation epoch with early stopping, else the last.
    pub best_epoch: usize,
    /// True when early stopping ended training before `spec.epochs`.
    pub stopped_early: bool,
}

impl Trained {
    /// The report of the epoch the run reports.
    pub fn best(&self) -> Option<&EpochReport> {
        self.epochs.get(self.best_epoch.checked_sub(1)?)
    }
}

/// Trains `model` for up to `spec.epochs` epochs, calling `on_epoch` after each; when it
/// answers [`EpochControl::Prune`], training ends with [`TrainError::Pruned`].
///
/// With `spec.early_stopping`, the monitored validation metric is checked after every
/// epoch; training stops once it has not improved for `patience` epochs, and the model's
/// weights are put back to those of the best epoch.
///
/// `stop` is checked before every batch: once raised, training ends with
/// [`TrainError::Interrupted`] (a sweep being stopped by Ctrl-C or SIGTERM).
///
/// A run that qualifies for per-rating SGD ([`PerRatingSgd::for_run`]) trains each epoch
/// with one call of `RatingModel::per_rating_epoch` over the shuffled ratings, if the
/// model has that path (else it keeps the batches). `stop` is then checked before every
/// epoch: the model sees the whole epoch at once so that it may order the ratings as it
/// needs (SVD++ groups them by user), and an epoch at ≥ 15 M ratings/s is under a second
/// on a 10M-rating set. A per-rating epoch counts as one "batch" in errors.
#[allow(clippy::too_many_arguments)]
pub fn train(
    model: &dyn RatingModel,
    optimizer: &mut dyn Optimizer,
    spec: &TrainingSpec,
    data: TrainData<'_>,
    rng: &mut impl Rng,
    stop: &AtomicBool,
    mut on_epoch: impl FnMut(&EpochReport) -> EpochControl,
) -> Result<Trained, TrainError> {
    let device = model.params().device().clone();
    let engine = model.params().engine();
    let loss_kind = Loss::of(spec);
    let _flush = denormal::FlushDenormals::new();
    // The training ratings packed as triples: shuffling them keeps each batch one
    // contiguous read instead of three random reads per rating.
    let triples: Vec<Triple> = data
        .train
        .iter()
        .map(|&i| Triple {
            user: data.ratings.users[i],
            item: data.ratings.items[i],
            value: data.ratings.values[i],
        })
        .collect();
    // A batch never holds more than the training set, whatever `training.batch_size` says.
    let mut buffers = BatchBuffers::with_capacity(spec.batch_size.min(triples.len()));
    let mut reports = Vec::with_capacity(spec.epochs.min(1024));
    let mut stopper = spec
        .early_stopping
        .filter(|_| !data.validation.is_empty())
        .map(Stopper::new);
    // The weights of the best epoch so far, while early stopping watches.
    let mut best_weights: Option<Vec<Tensor>> = None;
    let mut stopped_early = false;
    // Per-rating SGD while the model keeps taking it (its first `None` ends it).
    let mut per_rating = PerRatingSgd::for_run(spec, engine);
    // Laid out once as the per-rating loop needs them (blocks for several threads, user
    // by user for SVD++) or as `training.order` asks, then reshuffled within that layout
    // every epoch.
    let order = match (per_rating, spec.order) {
        (Some(sgd), _) => model.per_rating_order(sgd.threads),
        (None, BatchOrder::Shuffled) => RatingOrder::Shuffled,
        (None, BatchOrder::ByUser) => RatingOrder::ByUser,
        (None, BatchOrder::ByItem) => RatingOrder::ByItem,
    };
    let mut triples = EpochRatings::new(triples, order);
    for epoch in 1..=spec.epochs {
        let started = Instant::now();
        let rate = schedule::learning_rate(spec, epoch);
        optimizer.set_learning_rate(rate);
        triples.shuffle(rng);
        let mut loss_sum = 0.0f64;
        let mut batches = 0usize;
        if let Some(base) = per_rating {
            if stop.load(Ordering::Relaxed) {
                return Err(TrainError::Interrupted { epoch, batch: 1 });
            }
            let sgd = PerRatingSgd {
                learning_rate: rate as f32,
                ..base
            };
            match model.per_rating_epoch(&triples, &sgd, rng) {
                Some(mean) => {
                    let mean = mean?;
                    if !mean.is_finite() {
                        return Err(TrainError::Diverged {
                            epoch,
                            batch: 1,
                            loss: mean as f32,
                        });
                    }
                    loss_sum = mean;
                    batches = 1;
                }
                None => {
                    // Batches from here on: one list, shuffled as a whole from this epoch.
                    per_rating = None;
                    triples.unblock();
                    triples.shuffle(rng);
                }
            }
        }
        // The batch loop, unless this epoch was trained per rating.
        let batched = match per_rating {
            Some(_) => std::borrow::Cow::Borrowed(&[][..]),
            None => triples.in_order(),
        };
        for (b, chunk) in batched.chunks(spec.batch_size).enumerate() {
            if stop.load(Ordering::Relaxed) {
                return Err(TrainError::Interrupted {
                    epoch,
                    batch: b + 1,
                });
            }
            buffers.fill_triples(chunk);
            let (batch, target) = buffers.tensors(&device)?;
            let mut tape = Tape::recording_seeded(rng.next_u64());
            // The engine seam: the fused engine's own step where the model has one, else
            // candle's graph (forward, loss, backward), which every model has.
            let fused = match engine {
                Engine::Fused => model.fused_step(&batch, &target, loss_kind, &mut tape)?,
                Engine::Graph => None,
            };
            let (value, grads) = match fused {
                Some(step) => {
                    optimizer.prefetch(&tape);
                    step
                }
                None => {
                    let predicted = model.forward(&batch, &mut tape)?;
                    optimizer.prefetch(&tape);
                    let loss = loss_kind.value(engine, &predicted, &target)?;
                    let value = loss.to_scalar::<f32>()?;
                    // Not finite: fail before the backward pass spends time on it.
                    let grads = if value.is_finite() {
                        loss.backward()?
                    } else {
                        GradStore::default()
                    };
                    (value, grads)
                }
            };
            if !value.is_finite() {
                return Err(TrainError::Diverged {
                    epoch,
                    batch: b + 1,
                    loss: value,
                });
            }
            optimizer.step(model.params(), &tape, &grads)?;
            loss_sum += value as f64;
            batches += 1;
        }
        let train_seconds = started.elapsed().as_secs_f64();
        let test = evaluate(model, data.ratings, data.test, data.rating_range)?;
        let validation = validation_scores(model, &data)?;
        let report = EpochReport {
            epoch,
            train_loss: loss_sum / batches.max(1) as f64,
            test,
            validation,
            seconds: started.elapsed().as_secs_f64(),
            train_seconds,
        };
        if on_epoch(&report) == EpochControl::Prune {
            return Err(TrainError::Pruned { epoch });
        }
        reports.push(report);
        if let (Some(stopper), Some(scores)) = (stopper.as_mut(), validation) {
            match stopper.observe(epoch, scores.get(stopper.monitor())) {
                Verdict::Improved => best_weights = Some(model.params().snapshot()?),
                Verdict::Wait => {}
                Verdict::Stop => {
                    stopped_early = epoch < spec.epochs;
                    break;
                }
            }
        }
    }
    let best_epoch = match (stopper.and_then(|s| s.best_epoch()), best_weights) {
        (Some(epoch), Some(weights)) => {
            model.params().restore(&weights)?;
            epoch
        }
        _ => reports.len(),
    };
    Ok(Trained {
        epochs: reports,
        best_epoch,
        stopped_early,
    })
}

/// The single "epoch" of a model fitted in closed form: its training MSE and its scores,
/// reported like a trained epoch so that closed-form baselines are stored like any run.
pub fn closed_form_report(
    model: &dyn RatingModel,
    data: TrainData<'_>,
    started: Instant,
    mut on_epoch: impl FnMut(&EpochReport) -> EpochControl,
) -> candle_core::Result<Trained> {
    let train_seconds = started.elapsed().as_secs_f64();
    let fit = evaluate(model, data.ratings, data.train, data.rating_range)?;
    let test = evaluate(model, data.ratings, data.test, data.rating_range)?;
    let validation = validation_scores(model, &data)?;
    let report = EpochReport {
        epoch: 1,
        train_loss: fit.rmse * fit.rmse,
        test,
        validation,
        seconds: started.elapsed().as_secs_f64(),
        train_seconds,
    };
    // Its only epoch is its last: there is nothing left to prune.
    let _ = on_epoch(&report);
    Ok(Trained {
        epochs: vec![report],
        best_epoch: 1,
        stopped_early: false,
    })
}

/// Scores on the validation ratings, or `None` when the run has no validation split.
fn validation_scores(
    model: &dyn RatingModel,
    data: &TrainData<'_>,
) -> candle_core::Result<Option<Scores>> {
    if data.validation.is_empty() {
        return Ok(None);
    }
    evaluate(model, data.ratings, data.validation, data.rating_range).map(Some)
}

/// Ratings per evaluation batch: large, since evaluation keeps no gradients, but not so
/// large that activations leave the cache: at 8192 the two-tower model's 256-wide layers
/// made 8 MiB buffers, and its evaluation took 0.081 s and 130 MB peak memory on ML-100K
/// against 0.022 s and 71 MB at 2048 (the factor models did not change).
const EVAL_BATCH: usize = 2048;

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

/// Predictions of `model` for the ratings at `indices`, clipped to `range`, in the order
/// of `indices` (batched in user order when the model asks for it:
/// `RatingModel::evaluation_order`).
pub fn predict(
    model: &dyn RatingModel,
    ratings: &Ratings,
    indices: &[usize],
    range: (f32, f32),
) -> candle_core::Result<Vec<f32>> {
    let device = model.params().device().clone();
    let mut buffers = BatchBuffers::with_capacity(EVAL_BATCH);
    // `order[n]`: which of `indices` the n-th prediction is for.
    let mut order: Vec<usize> = (0..indices.len()).collect();
    match model.evaluation_order() {
        EvaluationOrder::AsGiven => {}
        EvaluationOrder::ByUser => order.sort_by_key(|&n| ratings.users[indices[n]]),
        EvaluationOrder::ByItem => order.sort_by_key(|&n| ratings.items[indices[n]]),
    }
    let mut out = vec![0.0f32; indices.len()];
    for chunk in order.chunks(EVAL_BATCH) {
        let rows: Vec<usize> = chunk.iter().map(|&n| indices[n]).collect();
        buffers.fill(ratings, &rows);
        let (batch, _) = buffers.tensors(&device)?;
        let predicted = model.forward(&batch, &mut Tape::off())?.to_vec1::<f32>()?;
        for (&n, p) in chunk.iter().zip(predicted) {
            out[n] = p.clamp(range.0, range.1);
        }
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::spec::{Architecture, EarlyStopping, MetricName, ModelSpec};
    use crate::models;
    use rand::{Rng, SeedableRng};

    /// 40 users × 40 items of pure noise: anything learned beyond the biases is
    /// overfitting, so validation error rises after the first epochs.
    fn noise() -> Ratings {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut r = Ratings::default();
        for u in 0..40 {
            for i in 0..40 {
                if rng.random_bool(0.5) {
                    r.push(u, i, rng.random_range(1..=5) as f32, 0);
                }
            }
        }
        r
    }

    #[test]
    fn the_schedule_sets_each_epochs_learning_rate() {
        // With an exponential decay of 1e-6 only epoch 1 moves the weights noticeably:
        // the test RMSE of epochs 2 and 3 stays that of epoch 1 (to 1e-5), while the
        // constant schedule keeps improving on the same seed.
        let ratings = noise();
        let split = crate::data::split::holdout(ratings.len(), 0.2, 0.0, 1);
        let rmse_by_epoch = |schedule| {
            let spec = TrainingSpec {
                lr_schedule: schedule,
                lr_decay: 1e-6,
                ..TrainingSpec::adam(3, 16, 0.05, 0.0)
            };
            let (_, trained) = train_biased_mf(&ratings, &split, 8, &spec);
            trained
                .epochs
                .iter()
                .map(|e| e.test.rmse)
                .collect::<Vec<f64>>()
        };
        let decayed = rmse_by_epoch(crate::config::spec::LrSchedule::Exponential);
        assert!((decayed[2] - decayed[0]).abs() < 1e-5, "{decayed:?}");
        let constant = rmse_by_epoch(crate::config::spec::LrSchedule::Constant);
        assert_eq!(constant[0], decayed[0], "epoch 1 trains at the base rate");
        assert!((constant[2] - constant[0]).abs() > 1e-3, "{constant:?}");
    }

    /// Biased MF with `k` factors (weights and shuffles from seed 1) trained with `spec`
    /// on `split` of `ratings`, 40 users × 40 items.
    fn train_biased_mf(
        ratings: &Ratings,
        split: &crate::data::split::Split,
        k: usize,
        spec: &TrainingSpec,
    ) -> (Box<dyn RatingModel>, Trained) {
        let ctx = crate::models::testing::ctx(40, 40);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let spec_model = ModelSpec::with_defaults(Architecture::BiasedMf, k);
        let model = models::build(&spec_model, &ctx, &mut rng).unwrap();
        let mut optimizer = optimizer(spec, model.params()).unwrap();
        let data = TrainData {
            ratings,
            train: &split.train,
            validation: &split.validation,
            test: &split.test,
            rating_range: (1.0, 5.0),
        };
        let stop = AtomicBool::new(false);
        let trained = train(
            model.as_ref(),
            optimizer.as_mut(),
            spec,
            data,
            &mut rng,
            &stop,
            |_| EpochControl::Continue,
        )
        .unwrap();
        (model, trained)
    }

    #[test]
    fn early_stopping_stops_within_patience_and_restores_the_best_epoch() {
        let ratings = noise();
        let split = crate::data::split::holdout(ratings.len(), 0.2, 0.25, 1);
        let mut spec = TrainingSpec::adam(60, 16, 0.05, 0.0);
        spec.early_stopping = Some(EarlyStopping {
            patience: 3,
            monitor: MetricName::Rmse,
        });
        let (model, trained) = train_biased_mf(&ratings, &split, 32, &spec);
        assert!(trained.stopped_early, "noise must overfit within 60 epochs");
        assert_eq!(
            trained.epochs.len(),
            trained.best_epoch + 3,
            "stops after `patience` epochs"
        );
        let best = trained.best().unwrap();
        let min = trained
            .epochs
            .iter()
            .map(|e| e.validation.unwrap().rmse)
            .fold(f64::INFINITY, f64::min);
        assert_eq!(
            best.validation.unwrap().rmse,
            min,
            "the best epoch has the lowest validation RMSE"
        );
        // The model holds the best epoch's weights again: scoring it now gives that epoch's
        // test scores, not the last epoch's.
        let now = evaluate(model.as_ref(), &ratings, &split.test, (1.0, 5.0)).unwrap();
        assert!(
            (now.rmse - best.test.rmse).abs() < 1e-9,
            "{now:?} vs {:?}",
            best.test
        );
        assert_ne!(now.rmse, trained.epochs.last().unwrap().test.rmse);
    }

    #[test]
    fn without_early_stopping_every_epoch_trains_and_the_last_is_reported() {
        let ratings = noise();
        let split = crate::data::split::holdout(ratings.len(), 0.2, 0.0, 1);
        let ctx = crate::models::testing::ctx(40, 40);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let model = models::build(
            &ModelSpec::with_defaults(Architecture::DotMf, 4),
            &ctx,
            &mut rng,
        )
        .unwrap();
        let spec = TrainingSpec::adam(4, 16, 0.01, 0.0);
        let mut optimizer = optimizer(&spec, model.params()).unwrap();
        let data = TrainData {
            ratings: &ratings,
            train: &split.train,
            validation: &[],
            test: &split.test,
            rating_range: (1.0, 5.0),
        };
        let mut seen = Vec::new();
        let trained = train(
            model.as_ref(),
            optimizer.as_mut(),
            &spec,
            data,
            &mut rng,
            &AtomicBool::new(false),
            |e| {
                seen.push(e.epoch);
                EpochControl::Continue
            },
        )
        .unwrap();
        assert_eq!(seen, [1, 2, 3, 4]);
        assert_eq!((trained.best_epoch, trained.stopped_early), (4, false));
        assert!(trained.epochs.iter().all(|e| e.validation.is_none()));

        // A raised stop flag ends training before the next batch, reporting no epoch.
        let mut seen = Vec::new();
        let stopped = train(
            model.as_ref(),
            optimizer.as_mut(),
            &spec,
            data,
            &mut rng,
            &AtomicBool::new(true),
            |e| {
                seen.push(e.epoch);
                EpochControl::Continue
            },
        );
        assert!(
            matches!(stopped, Err(TrainError::Interrupted { epoch: 1, batch: 1 })),
            "{stopped:?}"
        );
        assert!(seen.is_empty());
    }
}

#[cfg(test)]
mod repeatability {
    use super::*;
    use crate::config::spec::{Architecture, ModelSpec};
    use crate::models;
    use rand::SeedableRng;

    fn run_ncf_with_dropout(seed: u64) -> Vec<f64> {
        let mut ratings = Ratings::default();
        for u in 0..20u32 {
            for i in 0..20u32 {
                if (u * 7 + i * 3) % 4 == 0 {
                    ratings.push(u, i, 1.0 + ((u + i) % 5) as f32, 0);
                }
            }
        }
        let split = crate::data::split::holdout(ratings.len(), 0.2, 0.0, 1);
        let ctx = crate::models::testing::ctx(20, 20);
        let mut spec = ModelSpec::with_defaults(Architecture::Ncf, 8);
        spec.embedding_dropout = 0.2;
        spec.dropouts = vec![0.5];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let model = models::build(&spec, &ctx, &mut rng).unwrap();
        let training = TrainingSpec::adam(3, 8, 0.01, 0.0);
        let mut optimizer = optimizer(&training, model.params()).unwrap();
        let data = TrainData {
            ratings: &ratings,
            train: &split.train,
            validation: &[],
            test: &split.test,
            rating_range: (1.0, 5.0),
        };
        train(
            model.as_ref(),
            optimizer.as_mut(),
            &training,
            data,
            &mut rng,
            &AtomicBool::new(false),
            |_| EpochControl::Continue,
        )
        .unwrap()
        .epochs
        .iter()
        .map(|e| e.train_loss)
        .collect()
    }

    #[test]
    fn dropout_runs_repeat_exactly_for_a_seed() {
        assert_eq!(run_ncf_with_dropout(5), run_ncf_with_dropout(5));
        assert_ne!(run_ncf_with_dropout(5), run_ncf_with_dropout(6));
    }
}
